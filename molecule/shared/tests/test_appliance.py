"""Verify a converged appliance: the service runs, its ports listen, server.ini is what the
inventory renders, key files are private, and real clients on the controller can log in over
SFTP, upload over FTPS and download over HTTPS.

Every check runs: none skips. A service that did not start fails its checks quoting the
appliance's own event 20078. On the passive node of an HA pair the same checks prove the
opposite: the unit is stopped and disabled, and every port refuses connections.
"""

from __future__ import annotations

import difflib
import ftplib
import hashlib
import io
import itertools
import os
import re
import shlex
import socket
import ssl
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import paramiko
import pytest

HERE = Path(__file__).resolve().parent
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", HERE.parents[2]))
WILDCARDS = ("0.0.0.0", "::", "")


def test_service_is_running(appliance) -> None:
    host = appliance.host
    if appliance.target == "process":
        # Container variant without systemd: the appliance is the container's foreground process.
        processes = host.process.filter(comm="appliance") or [
            p for p in host.process.filter() if "appliance serve" in p.args
        ]
        assert processes, "no `appliance serve` process runs in the container"
        return
    unit = host.service(appliance.variables.get("lab_unit", "appliance"))
    if not appliance.serving:
        assert not unit.is_running, f"{unit.name} runs on the passive node"
        assert not unit.is_enabled, f"{unit.name} would start at boot on the passive node"
        return
    assert unit.is_running, f"{unit.name} is not active"
    assert unit.is_enabled, f"{unit.name} is not enabled at boot"


def _assert_refused(appliance, service) -> None:
    """A passive HA node: nothing listens, and a client's connect is refused."""
    spec = f"tcp://{service.address or '0.0.0.0'}:{service.port}"
    assert not appliance.host.socket(spec).is_listening, (
        f"services/{service.id} listens on the passive node ({service.address}:{service.port})"
    )
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((appliance.address, service.port), timeout=10).close()


def test_each_configured_port_listens(appliance) -> None:
    services = appliance.services()
    assert services, f"{appliance.config_file} configures no enabled service"
    if not appliance.serving:
        for service in services:
            _assert_refused(appliance, service)
        return
    listening = []
    for service in services:
        appliance.require_started(service)
        # testinfra's "tcp://PORT" means IPv4 *and* IPv6 wildcards: name the address itself.
        spec = f"tcp://{service.address or '0.0.0.0'}:{service.port}"
        assert appliance.host.socket(spec).is_listening, (
            f"services/{service.id}: nothing listens on {service.address}:{service.port}"
        )
        listening.append(service)
    # From the controller: the listener answers a TCP connect through the lab network.
    for service in listening:
        if service.address in WILDCARDS or service.address == appliance.address:
            with socket.create_connection((appliance.address, service.port), timeout=10):
                pass


def test_server_ini_matches_a_local_render_of_the_inventory(appliance, tmp_path) -> None:
    """Render the same inventory on the controller with the role's own templates; same bytes."""
    hostname = appliance.variables["inventory_hostname"]
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    assert inventory, "run through `molecule verify` (MOLECULE_INVENTORY_FILE is not set)"
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            inventory,
            "--limit",
            hostname,
            "-e",
            f"lab_render_dir={tmp_path}",
            str(HERE.parent / "render-locally.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"local render failed:\n{result.stdout}\n{result.stderr}"
    rendered = tmp_path / hostname
    local_files = sorted(p for p in rendered.rglob("*") if p.is_file())
    assert local_files, f"the local render wrote nothing under {rendered}"
    for local in local_files:
        relative = local.relative_to(rendered).as_posix()
        remote = appliance.host.file(str(appliance.config_dir / relative))
        assert remote.exists, f"{relative}: rendered locally but missing on {hostname}"
        expected = local.read_bytes()
        # Compare checksums computed on the host: the podman backend's `content` loses
        # trailing newlines, and a trailing newline is part of "the same bytes".
        if remote.sha256sum != hashlib.sha256(expected).hexdigest():
            installed = remote.content
            diff = difflib.unified_diff(
                expected.decode(errors="replace").splitlines(),
                installed.decode(errors="replace").splitlines(),
                "local render",
                f"{hostname}:{appliance.config_dir / relative}",
                lineterm="",
            )
            pytest.fail(
                f"{appliance.config_dir / relative} on {hostname} differs from the local "
                "render of the same inventory:\n" + "\n".join(diff)
            )


def test_drift_report_is_clean_on_the_converged_host(appliance) -> None:
    """playbooks/drift.yml (check mode, diffs) finds nothing to change on this host."""
    hostname = appliance.variables["inventory_hostname"]
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    assert inventory, "run through `molecule verify` (MOLECULE_INVENTORY_FILE is not set)"
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1"}
    env.pop("ANSIBLE_FORCE_COLOR", None)  # Molecule sets it on a terminal; it beats NOCOLOR
    result = subprocess.run(
        ["ansible-playbook", "-i", inventory, "--limit", hostname,
         str(PROJECT / "playbooks" / "drift.yml")],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 0, f"drift.yml failed:\n{result.stdout[-6000:]}\n{result.stderr}"
    recap = re.search(
        rf"^{re.escape(hostname)}\s*:\s*ok=\d+\s+changed=(\d+)", result.stdout, re.MULTILINE
    )
    assert recap, result.stdout[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith(("TASK [", "changed:"))]
    changed_tasks = [
        task for task, line in itertools.pairwise(lines)
        if task.startswith("TASK [") and line.startswith("changed:")
    ]  # fmt: skip
    assert recap[1] == "0", f"drift.yml reports changes on a converged host: {changed_tasks}"


def _key_files(appliance) -> set[str]:
    found = set()
    for name in appliance.ini.sections():
        if name != "server" and not name.startswith("services/"):
            continue
        section = appliance.ini[name]
        for line in section.get("ssh_server_keys", "").replace(",", "\n").splitlines():
            if line.strip():
                found.add(appliance.path(line.strip()))
        if section.get("tls_private_certificate"):
            found.add(appliance.path(section["tls_private_certificate"].strip()))
    return found


def test_key_files_are_private(appliance) -> None:
    """Private keys belong to the configuration's owner; the runtime only reads them (group)."""
    keys = _key_files(appliance)
    assert keys, "server.ini names no SSH host key and no TLS private key"
    owner = appliance.variables.get("lab_config_owner", "root")
    group = appliance.variables.get("lab_group", "appliance")
    for key in sorted(keys):
        file = appliance.host.file(key)
        assert file.is_file, f"{key} is missing"
        assert file.mode == 0o640, f"{key} has mode {file.mode:04o}, expected 0640"
        assert (file.user, file.group) == (owner, group), (
            f"{key} is owned by {file.user}:{file.group}, expected {owner}:{group}"
        )


# -- real clients, from the controller -----------------------------------------------------


def _probe(appliance) -> tuple[str, str]:
    account = appliance.variables.get("lab_probe_account")
    password = appliance.variables.get("lab_probe_password")
    if not account or not password:
        pytest.fail("the scenario's inventory defines no probe account")
    return account, password


def _retry(action, attempts: int = 5):
    """The appliance may still be (re)starting right after converge."""
    for attempt in range(attempts):
        try:
            return action()
        except (OSError, EOFError):
            if attempt == attempts - 1:
                raise
            time.sleep(2)


def test_sftp_login(appliance) -> None:
    service = appliance.service_of_type("ssh")
    if not appliance.serving:
        _assert_refused(appliance, service)
        return
    appliance.require_started(service)
    account, password = _probe(appliance)

    def login():
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 (lab host)
        client.connect(
            appliance.address,
            port=service.port,
            username=account,
            password=password,
            allow_agent=False,
            look_for_keys=False,
            timeout=15,
        )
        try:
            sftp = client.open_sftp()
            return sftp.listdir(".")
        finally:
            client.close()

    assert isinstance(_retry(login), list)


def test_ftps_upload(appliance) -> None:
    service = appliance.service_of_type("ftp")
    if not appliance.serving:
        _assert_refused(appliance, service)
        return
    appliance.require_started(service)
    account, password = _probe(appliance)
    name = f"molecule-{uuid.uuid4().hex[:8]}.txt"
    payload = f"uploaded over explicit FTPS by molecule verify, {name}\n".encode()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # lab certificate

    def upload():
        with ftplib.FTP_TLS(context=context, timeout=15) as ftp:
            ftp.connect(appliance.address, service.port)
            ftp.login(account, password)  # AUTH TLS first: FTP_TLS.login secures the control
            ftp.prot_p()
            ftp.storbinary(f"STOR {name}", io.BytesIO(payload))
            listing = ftp.nlst()
            back = io.BytesIO()
            ftp.retrbinary(f"RETR {name}", back.write)
            ftp.delete(name)
            return listing, back.getvalue()

    listing, back = _retry(upload)
    assert name in [Path(entry).name for entry in listing]
    assert back == payload


def test_https_download(appliance) -> None:
    service = appliance.service_of_type("https")
    if not appliance.serving:
        _assert_refused(appliance, service)
        return
    appliance.require_started(service)
    account, password = _probe(appliance)
    home = appliance.variables.get("lab_probe_home")
    if not home:
        pytest.fail("the scenario's inventory gives no lab_probe_home")
    name = f"molecule-{uuid.uuid4().hex[:8]}.bin"
    remote = f"{home}/{name}"
    owner = appliance.variables.get("lab_user", "root")
    # Make 256 KiB of random bytes on the host's disk directly (no command line can carry
    # them there), note their checksum there, then fetch them through the appliance.
    quoted = shlex.quote(remote)
    appliance.host.run_expect(
        [0],
        f"install -d -o {owner} {shlex.quote(home)} && "
        f"head -c 262144 /dev/urandom > {quoted} && chown {owner} {quoted}",
    )
    expected = appliance.host.file(remote).sha256sum
    try:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # lab certificate
        request = urllib.request.Request(
            f"https://{appliance.address}:{service.port}/api/files/{name}"
        )
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, request.full_url, account, password)
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context),
            urllib.request.HTTPBasicAuthHandler(manager),
        )

        def download():
            with opener.open(request, timeout=30) as response:
                return response.read()

        body = _retry(download)
        assert len(body) == 262144
        assert hashlib.sha256(body).hexdigest() == expected
    finally:
        appliance.host.run(f"rm -f {shlex.quote(remote)}")
