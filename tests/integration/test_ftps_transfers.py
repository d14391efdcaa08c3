"""Client transfers to and from a real vsftpd with TLS required, explicit and implicit.

vsftpd's certificate is issued by a test CA (tests/lab_pki.py) that the location trusts
through `ca_certificate`; a location trusting another CA is refused (event 80009) before
anything is sent. Outcomes are polled from the audit database with generous deadlines.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.ftp_helpers import FTPS_SERVICES, PASSWORD
from tests.helpers import wait_for
from tests.integration.test_client_transfers import (
    DEADLINE,
    appliance,
    check_pulled_then_deleted,
    completed,
    hidden_leftovers,
    pull_setup,
    sha256,
    transfer,
)
from tests.lab_pki import CA
from tests.running import REPO, RunningAppliance
from tests.vsftpd_support import LoopbackVsftpd, vsftpd_usable

pytestmark = pytest.mark.skipif(not vsftpd_usable(), reason="needs vsftpd and root")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The CA that issued vsftpd's certificate, another CA, and vsftpd's PEM (key + cert)."""
    folder = tmp_path_factory.mktemp("pki")
    ca, other = CA("FTPS Test CA"), CA("Some Other CA")
    issued = ca.issue("localhost")
    server_pem = folder / "vsftpd.pem"
    server_pem.write_bytes(issued.key_pem + issued.pem)
    server_pem.chmod(0o600)
    (folder / "ca.pem").write_bytes(ca.pem)
    (folder / "other-ca.pem").write_bytes(other.pem)
    client = ca.issue("acme", server=False)
    (folder / "client.pem").write_bytes(client.key_pem + client.pem)
    (folder / "client.pem").chmod(0o600)
    return folder


def ftps_location(tmp_path: Path, server: LoopbackVsftpd, ca_file: Path, **options) -> str:
    password_file = tmp_path / "ftp.pw"
    password_file.write_text("guest\n")
    password_file.chmod(0o600)
    lines = "".join(f"{key} = {value}\n" for key, value in options.items())
    return (
        textwrap.dedent(f"""\
        [locations/partner]
        type = ftps
        address = 127.0.0.1
        port = {server.port}
        username = anonymous
        password_file = {password_file}
        ca_certificate = {ca_file}
        connect_timeout = 10
        """)
        + lines
        + "\n"
    )


def push_once(tmp_path: Path, location: str) -> tuple[Path, str]:
    """An outbox and the INI of `location` plus a push from it to /up, with no retry."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    return outbox, location + transfer(
        source=outbox,
        destination="partner",
        destination_path="/up",
        trigger="interval",
        interval=1,
        retries=0,
    )


@pytest.mark.parametrize("tls_mode", ["explicit", "implicit"])
def test_push_to_ftps_then_delete(tmp_path, pki, tls_mode):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    with LoopbackVsftpd(pki / "vsftpd.pem", implicit=tls_mode == "implicit") as server:
        extra = ftps_location(tmp_path, server, pki / "ca.pem", tls_mode=tls_mode) + transfer(
            source=outbox,
            destination="partner",
            destination_path="/up/incoming",
            trigger="interval",
            interval=1,
            after="delete",
            retry_delay=1,
        )
        with appliance(tmp_path, extra) as app:
            data = os.urandom(3 * 1024 * 1024 + 11)
            (outbox / "big.bin").write_bytes(data)
            event = completed(app, "big.bin")
            delivered = server.upload / "incoming" / "big.bin"
            assert sha256(delivered) == hashlib.sha256(data).hexdigest() == event["data"]["sha256"]
            assert event["data"]["how"] == "sent"
            assert event["data"]["destination"].startswith("ftps://anonymous@127.0.0.1:")
            wait_for(lambda: not (outbox / "big.bin").exists(), timeout=DEADLINE)
            assert hidden_leftovers(delivered.parent) == []
            assert app.events(80009, 80007, 80005) == []


def test_pull_from_ftps_into_a_local_location(tmp_path, pki):
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    with LoopbackVsftpd(pki / "vsftpd.pem") as server:
        extra = ftps_location(tmp_path, server, pki / "ca.pem") + pull_setup(
            server.upload, pulled, source_path="/up"
        )
        with appliance(tmp_path, extra) as app:
            check_pulled_then_deleted(app, server.upload, pulled)


def test_a_certificate_of_another_ca_is_refused_and_nothing_is_sent(tmp_path, pki):
    with LoopbackVsftpd(pki / "vsftpd.pem") as server:
        outbox, extra = push_once(tmp_path, ftps_location(tmp_path, server, pki / "other-ca.pem"))
        with appliance(tmp_path, extra) as app:
            (outbox / "secret.bin").write_bytes(b"secret" * 1000)
            refused = app.wait_event(80009, timeout=DEADLINE)
            failed = app.wait_event(80005, timeout=DEADLINE)
            assert refused["data"]["location"] == "partner"
            assert "certificate" in refused["data"]["error"]
            assert "TLS certificate" in failed["data"]["error"]
            assert list(server.upload.iterdir()) == []
            assert app.events(80003) == []


def test_a_server_that_requires_a_client_certificate_gets_the_configured_one(tmp_path, pki):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    with LoopbackVsftpd(pki / "vsftpd.pem", client_ca=pki / "ca.pem") as server:
        extra = ftps_location(
            tmp_path, server, pki / "ca.pem", client_certificate=pki / "client.pem"
        ) + transfer(
            source=outbox,
            destination="partner",
            destination_path="/up",
            trigger="interval",
            interval=1,
        )
        with appliance(tmp_path, extra) as app:
            (outbox / "signed.bin").write_bytes(b"s" * 70_000)
            event = completed(app, "signed.bin")
            assert event["data"]["sha256"] == sha256(server.upload / "signed.bin")


def test_without_the_client_certificate_it_requires_nothing_is_sent(tmp_path, pki):
    with LoopbackVsftpd(pki / "vsftpd.pem", client_ca=pki / "ca.pem") as server:
        outbox, extra = push_once(tmp_path, ftps_location(tmp_path, server, pki / "ca.pem"))
        with appliance(tmp_path, extra) as app:
            (outbox / "unsigned.bin").write_bytes(b"u" * 100)
            failed = app.wait_event(80005, timeout=DEADLINE)
            assert any(word in failed["data"]["error"] for word in ("certificate", "handshake"))
            assert list(server.upload.iterdir()) == []
            assert app.events(80003) == []


def _validate(tmp_path: Path, extra: str) -> subprocess.CompletedProcess:
    app = appliance(tmp_path, extra)
    app.write_config()
    return subprocess.run(
        [sys.executable, "-m", "appliance", "validate", str(app.root)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plain_ftp_is_refused_at_validate_unless_opted_in(tmp_path):
    password_file = tmp_path / "ftp.pw"
    password_file.write_text("x\n")
    location = textwrap.dedent(f"""\
        [locations/plain]
        type = ftp
        address = 127.0.0.1
        username = bob
        password_file = {password_file}
        """)
    refused = _validate(tmp_path, location)
    assert refused.returncode == 1
    said = refused.stdout + refused.stderr
    assert "locations/plain:allow_plaintext" in said and "allow_plaintext" in said
    assert "Traceback" not in said
    accepted = _validate(tmp_path, location + "allow_plaintext = yes\n")
    assert accepted.returncode == 0, accepted.stderr
    password = _validate(tmp_path, location.replace("password_file", "password") + "\n")
    assert password.returncode == 1 and "password" in password.stdout + password.stderr


@pytest.mark.parametrize(
    ("service", "tls_mode"), [("ftps-strict", "explicit"), ("ftps-implicit", "implicit")]
)
def test_push_to_the_appliances_own_ftps_service(tmp_path, service, tls_mode):
    """The far end is another appliance: its FTPS service, its certificate trusted by file."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    password_file = tmp_path / "alice.pw"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    app = RunningAppliance(tmp_path, FTPS_SERVICES, accounts={"alice": PASSWORD})
    app.write_config()
    app.extra = textwrap.dedent(f"""
        [locations/peer]
        type = ftps
        tls_mode = {tls_mode}
        address = 127.0.0.1
        port = {app.port(service)}
        username = alice
        password_file = {password_file}
        ca_certificate = {app.root / "keys" / "tls.pem"}

        """) + transfer(
        source=outbox, destination="peer", destination_path="incoming", trigger="event"
    )
    (outbox / "hello.txt").write_bytes(b"hello " * 100_000)
    with app:
        event = completed(app, "hello.txt")
        delivered = app.home("alice") / "incoming" / "hello.txt"
        assert delivered.read_bytes() == b"hello " * 100_000
        assert event["data"]["sha256"] == sha256(delivered)
        assert hidden_leftovers(delivered.parent) == []
        assert app.wait_event(20137, lambda e: e["data"]["protocol"] == "ftps", timeout=DEADLINE)
