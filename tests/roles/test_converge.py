"""site.yml converges a local target (a temporary prefix, local connection) from the lab
inventory: keys, server.ini and fragments validated and installed, LDAP bind checked against a
real slapd, the test event delivered to a syslog socket and an SMTP server; a second run
changes nothing and gives the same bytes."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.roles.conftest import REPO, local_target, run, tool

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "dc=example,dc=test"
rootdn "cn=admin,dc=example,dc=test"
rootpw adminpw
directory {dir}/db
"""


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def slapd(tmp_path):
    if not Path("/usr/sbin/slapd").exists():
        pytest.skip("slapd is not installed (scripts/apt-packages.txt lists it)")
    folder = tmp_path / "slapd"
    (folder / "db").mkdir(parents=True)
    (folder / "slapd.conf").write_text(SLAPD_CONF.format(dir=folder))
    port = free_port()
    subprocess.run(
        ["/usr/sbin/slapd", "-h", f"ldap://127.0.0.1:{port}/", "-f", str(folder / "slapd.conf")],
        check=True,
        timeout=30,
    )
    yield f"ldap://127.0.0.1:{port}"
    pid = folder / "slapd.pid"
    for _ in range(50):
        if pid.exists():
            os.kill(int(pid.read_text()), 15)
            break
        time.sleep(0.1)


@pytest.fixture
def receivers():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message
    from aiosmtpd.smtp import AuthResult

    messages = []

    class Collect(Message):
        def handle_message(self, message):
            messages.append(message)

    syslog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    syslog.bind(("127.0.0.1", 0))
    syslog.settimeout(0.2)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)

    smtp = Controller(
        Collect(),
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    smtp.start()
    yield {"syslog": syslog, "smtp_port": smtp.port, "mail": messages, "logins": logins}
    smtp.stop()
    syslog.close()


def recap(output: str) -> dict:
    match = re.search(r"appliance-local\s*:\s*ok=(\d+)\s+changed=(\d+).*failed=(\d+)", output)
    assert match, output[-3000:]
    return {"ok": int(match[1]), "changed": int(match[2]), "failed": int(match[3])}


@pytest.mark.timeout(540)
def test_site_converges_locally_and_is_idempotent(tmp_path, slapd, receivers):
    if os.geteuid() != 0:
        pytest.skip("the converge writes files owned by root and checks nftables as root")
    prefix = tmp_path / "host"
    inventory = tmp_path / "local.yml"
    inventory.write_text(
        "all:\n  children:\n    appliances:\n      children:\n        linux_appliances:\n"
        "          hosts:\n            appliance-local:\n              ansible_connection: local\n"
        f"              ansible_python_interpreter: {sys.executable}\n"
    )
    syslog_port = receivers["syslog"].getsockname()[1]
    overrides = {
        **local_target(prefix, REPO / "build" / "wheelhouse"),
        "appliance_ldap_urls": [slapd],
        "appliance_ldap_service_bind_dn": "cn=admin,dc=example,dc=test",
        "appliance_ldap_service_password": "adminpw",
        "appliance_logging_syslog_handlers": [
            {"id": "siem", "url": f"udp://127.0.0.1:{syslog_port}", "facility": "local3"}
        ],
        "appliance_logging_smtp_address": "127.0.0.1",
        "appliance_logging_smtp_port": receivers["smtp_port"],
        "appliance_logging_smtp_security": "none",
    }
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(overrides))
    command = [
        tool("ansible-playbook"),
        "-i",
        "inventory/lab",
        "-i",
        str(inventory),
        "--limit",
        "appliance-local",
        "-e",
        f"@{extra}",
        "playbooks/site.yml",
    ]
    first = run(command, timeout=600)
    assert first.returncode == 0, first.stdout[-8000:] + first.stderr[-3000:]
    assert recap(first.stdout)["changed"] > 0

    config = prefix / "etc" / "appliance"
    server_ini = (config / "server.ini").read_bytes()
    fragments = {path.name: path.read_bytes() for path in (config / "server.d").glob("*.ini")}
    assert sorted(fragments) == ["50-ldap.ini", "60-logging.ini"]
    assert b"[services/sftp-public]" in server_ini
    rendered = server_ini + b"".join(fragments.values())
    assert b"$argon2id$" in server_ini
    assert b"lab-smtp-password" not in rendered and b"adminpw" not in rendered
    validate = run([tool("appliance"), "validate", str(config)])
    assert validate.returncode == 0, validate.stdout + validate.stderr

    keys = config / "keys"
    for name in ("ssh_host_ed25519_key", "ssh_host_rsa_key", "tls.pem", "smtp-password"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o640, name
    assert "bind as cn=admin,dc=example,dc=test succeeded" in first.stdout
    assert "SHA256:" in first.stdout  # fingerprints reported
    assert "sent test event 60004" in first.stdout

    datagram = receivers["syslog"].recv(65535)
    assert b"60004" in datagram or b"sink-test-event" in datagram
    deadline = time.monotonic() + 10
    while not receivers["mail"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert receivers["mail"], "the test event did not arrive by SMTP"
    # The password came from the vault through a 0640 file, never from server.ini.
    assert receivers["logins"] == [(b"appliance", b"lab-smtp-password")]

    ruleset = Path(overrides["dmz_firewall_ruleset_path"]).read_text()
    assert "table inet appliance_dmz" in ruleset

    second = run(command, timeout=600)
    assert second.returncode == 0, second.stdout[-8000:] + second.stderr[-3000:]
    assert recap(second.stdout)["changed"] == 0, second.stdout[-8000:]
    assert (config / "server.ini").read_bytes() == server_ini
    assert {p.name: p.read_bytes() for p in (config / "server.d").glob("*.ini")} == fragments

    shutil.rmtree(prefix, ignore_errors=True)
