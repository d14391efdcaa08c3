"""Event handlers end to end: files uploaded over SFTP and FTPS, checked, dispatched, alerted.

The real appliance process; paramiko for SFTP, ftplib for explicit FTPS; an aiosmtpd server
receives the quarantine alert.
"""

from __future__ import annotations

import io
import json
import time
from email import message_from_bytes

import paramiko
import pytest

from tests.ftp_helpers import ReusingFTP_TLS, insecure_context
from tests.helpers import free_port, wait_for
from tests.integration.test_handlers import EICAR, SCANNER
from tests.running import RunningAppliance

PASSWORD = "handlers pw"

SERVICES = """
[services/sftp]
type = ssh
address = 127.0.0.1
port = {port}

[services/ftp]
type = ftp
address = 127.0.0.1
port = {port}
passive_port_range = 62300-62339
"""


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    port = free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


@pytest.fixture(scope="module")
def app(tmp_path_factory, smtp):
    root = tmp_path_factory.mktemp("handlers-e2e")
    scanner = root / "scanner.py"
    scanner.write_text(SCANNER)
    scanner.chmod(0o755)
    outbox, quarantine = root / "outbox", root / "quarantine"
    handlers = f"""
[event-handlers/antivirus]
type = external-command
command = {scanner}
quarantine_folder = {quarantine}
timeout = 30

[event-handlers/dispatch]
type = file-dispatcher
after = antivirus
dispatch_rules =
    move, m/^/Inbox/(\\w+)\\.csv$/, {outbox}/{{account.name}}/{{1}}

[resources/relay]
type = smtp
address = 127.0.0.1
port = {smtp[0]}
security = none

[event-handlers/alert]
type = email
resource = relay
target = 50003
email_from = appliance@example.test
email_to = soc@example.test
"""
    with RunningAppliance(root, SERVICES, accounts={"acme": PASSWORD}, extra=handlers) as running:
        running.outbox, running.quarantine = outbox, quarantine
        running.home("acme").joinpath("Inbox").mkdir(parents=True, exist_ok=True)
        yield running


def sftp_client(app) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
    transport = paramiko.Transport(("127.0.0.1", app.port("sftp")))
    transport.connect(username="acme", password=PASSWORD)
    return transport, paramiko.SFTPClient.from_transport(transport)


def test_sftp_upload_is_scanned_then_dispatched_by_regex(app):
    transport, sftp = sftp_client(app)
    with sftp.open("/Inbox/orders.csv", "wb") as remote:
        remote.write(b"id,qty\n1,3\n")
    transport.close()
    target = app.outbox / "acme" / "orders" / "orders.csv"
    wait_for(target.exists)
    assert target.read_bytes() == b"id,qty\n1,3\n"
    assert not (app.home("acme") / "Inbox" / "orders.csv").exists()
    passed = app.wait_event(50001, lambda e: e["data"]["handler"] == "dispatch")
    assert passed["account"] == "acme" and passed["data"]["path"] == "/Inbox/orders.csv"


def test_ftps_upload_is_dispatched(app):
    client = ReusingFTP_TLS(context=insecure_context())
    client.connect("127.0.0.1", app.port("ftp"), timeout=20)
    client.login("acme", PASSWORD)
    client.prot_p()
    client.storbinary("STOR /Inbox/invoices.csv", io.BytesIO(b"n,total\n7,99\n"))
    client.quit()
    target = app.outbox / "acme" / "invoices" / "invoices.csv"
    wait_for(target.exists)
    assert target.read_bytes() == b"n,total\n7,99\n"


def test_eicar_is_quarantined_and_alerted_by_email(app, smtp):
    _, received = smtp
    transport, sftp = sftp_client(app)
    with sftp.open("/Inbox/virus.csv", "wb") as remote:
        remote.write(EICAR)
    transport.close()
    event = app.wait_event(50003, lambda e: e["data"]["path"] == "/Inbox/virus.csv")
    assert "FOUND: EICAR" in event["data"]["reason"]
    assert not (app.outbox / "acme" / "virus").exists()
    assert len(list(app.quarantine.glob("*-virus.csv"))) == 1
    message = wait_for(lambda: next((m for m in received if "virus.csv" in m["Subject"]), None))
    body = json.loads(message_from_bytes(message.as_bytes()).get_payload(decode=True))
    assert body["id"] == 50003 and body["account"] == "acme"
    assert body["data"]["path"] == "/Inbox/virus.csv"


def test_no_handler_sees_a_slow_upload_before_it_completes(app):
    transport, sftp = sftp_client(app)
    final = app.home("acme") / "Inbox" / "slow.csv"
    remote = sftp.open("/Inbox/slow.csv", "wb")
    for chunk in range(20):
        remote.write(bytes([65 + chunk % 26]) * 32_768)
        remote.flush()
        time.sleep(0.05)
        assert not final.exists(), "a partial upload is visible under its final name"
        assert not [
            e for e in app.events(20050, 50001, 50003) if e["data"].get("path") == "/Inbox/slow.csv"
        ], "a handler saw it early"
    remote.close()
    transport.close()
    target = app.outbox / "acme" / "slow" / "slow.csv"
    wait_for(target.exists)
    assert target.stat().st_size == 20 * 32_768
