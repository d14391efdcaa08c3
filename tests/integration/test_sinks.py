"""Audit sinks against real receivers: rsyslog (UDP, TCP), aiosmtpd (STARTTLS), an HTTP endpoint."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.filters import EventFilter
from appliance.runtime.events.sinks.email import EmailSink
from appliance.runtime.events.sinks.sqlite import SQLiteSink
from appliance.runtime.events.sinks.syslog import SyslogSink
from appliance.runtime.events.sinks.webhook import WebhookSink
from tests.helpers import audit_events, free_port, wait_for

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


@pytest.fixture
def rsyslog(tmp_path: Path):
    if not Path(RSYSLOGD).exists():
        pytest.fail("rsyslogd is not installed: scripts/install-test-deps installs it")
    port = free_port()
    (tmp_path / "work").mkdir()
    log_file = tmp_path / "messages.log"
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(f"""
global(workDirectory="{tmp_path}/work")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{port}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="full" type="string" string="%msgid% %app-name% %structured-data% %msg%\\n")
*.* action(type="omfile" file="{log_file}" template="full")
""")
    process = subprocess.Popen(
        [RSYSLOGD, "-n", "-f", str(conf), "-i", str(tmp_path / "pid")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening)
    yield port, log_file
    process.terminate()
    process.wait(10)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_syslog_reaches_rsyslog(rsyslog, transport):
    port, log_file = rsyslog
    sink = SyslogSink("siem", f"{transport}://127.0.0.1:{port}", app_name="mft")
    bus = EventBus([sink])
    bus.emit(
        20021,
        "services/sftp",
        peer="192.0.2.7:5555",
        username="eve",
        protocol="sftp",
        reason=f"bad password over {transport}",
    )
    assert sink.flush()
    line = wait_for(
        lambda: (
            next((x for x in log_file.read_text().splitlines() if transport in x), None)
            if log_file.exists()
            else None
        )
    )
    assert line.startswith('20021 mft [appliance@32473 id="20021"')
    assert 'peer="192.0.2.7:5555"' in line
    assert line.endswith(f"Authentication of eve over sftp failed: bad password over {transport}.")
    bus.close()


def test_syslog_tcp_uses_octet_counting_and_rfc5424():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    sink = SyslogSink("raw", f"tcp://127.0.0.1:{port}", facility="auth")
    bus = EventBus([sink])
    bus.emit(20137, "services/ftp", account="alice", method="local", protocol="ftp")
    connection, _ = server.accept()
    connection.settimeout(10)
    data = b""
    while not _complete_frame(data):
        data += connection.recv(4096)
    length, message = data.split(b" ", 1)
    assert int(length) == len(message)
    assert message.startswith(b"<38>1 ")  # facility auth (4) * 8 + info (6)
    assert b" 20137 [appliance@32473 " in message
    assert message.endswith("\ufeffAccount alice authenticated by local over ftp.".encode())
    bus.close()
    connection.close()
    server.close()


def _complete_frame(data: bytes) -> bool:
    length, space, rest = data.partition(b" ")
    return bool(space) and len(rest) >= int(length)


def test_email_over_starttls_carries_the_event_json(smtp_server, key_material):
    port, received = smtp_server
    sink = EmailSink(
        "alerts",
        host="127.0.0.1",
        port=port,
        sender="mft@example.test",
        recipients=["ops@example.test", "sec@example.test"],
        subject="[mft] {id}: {message}",
        security="starttls",
        ca_certificate=str(key_material / "tls.pem"),
        event_filter=EventFilter(include_ids=frozenset({50003})),
    )
    bus = EventBus([sink])
    bus.emit(20058, "services/ftp", path="/ignored")  # filtered out
    event = bus.emit(
        50003,
        "event-handlers/av",
        account="bob",
        handler="av",
        path="/Inbox/x.exe",
        quarantine_path="/q/x.exe",
        reason="EICAR",
    )
    assert sink.flush()
    message = wait_for(lambda: received[0] if received else None)
    assert len(received) == 1
    assert message["Subject"] == f"[mft] 50003: {event.message}"
    assert message["To"] == "ops@example.test, sec@example.test"
    body = json.loads(message_from_bytes(message.as_bytes()).get_payload(decode=True))
    assert body["id"] == 50003 and body["uuid"] == event.uuid and body["account"] == "bob"
    assert body["data"]["reason"] == "EICAR"
    bus.close()


def test_webhook_posts_event_json():
    received: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = WebhookSink("hook", f"http://127.0.0.1:{server.server_address[1]}/events")
    bus = EventBus([sink])
    event = bus.emit(20054, "services/http", account="carol", path="/a.txt")
    assert sink.flush()
    wait_for(lambda: received)
    content_type, body = received[0]
    assert content_type == "application/json"
    assert (body["id"], body["uuid"], body["data"]["path"]) == (20054, event.uuid, "/a.txt")
    bus.close()
    server.shutdown()


def test_dead_smtp_server_never_blocks_emission(tmp_path: Path):
    """An SMTP server that accepts and then never answers: emitters carry on, failures reported."""
    black_hole = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.append(black_hole.accept()), daemon=True).start()
    email = EmailSink(
        "alerts",
        host="127.0.0.1",
        port=black_hole.getsockname()[1],
        sender="a@example.test",
        recipients=["b@example.test"],
        security="none",
        timeout=3,
    )
    audit = SQLiteSink("audit", tmp_path / "audit.db")
    bus = EventBus([audit, email])
    for n in range(50):
        bus.emit(20052, "services/ftp", account="dave", path=f"/f{n}", bytes=n, duration=0.1)
    # The email worker is stuck inside the server's silent greeting, yet every durable event
    # is already in the audit database: emit() returned without waiting for it.
    wait_for(lambda: accepted)
    assert len(audit_events(tmp_path / "audit.db", 20052)) == 50
    # The stuck delivery times out and is reported as a failure of that handler, with retry.
    failure = wait_for(lambda: audit_events(tmp_path / "audit.db", 60001))[0]
    assert failure["component"] == "event-handlers/alerts"
    assert failure["data"]["pending"] >= 1
    email.close(timeout=1)
    audit.close()
    black_hole.close()


def test_refused_smtp_retries_with_backoff_then_recovers(tmp_path: Path, smtp_server, key_material):
    port, received = smtp_server
    dead_port = free_port()
    email = EmailSink(
        "alerts",
        host="127.0.0.1",
        port=dead_port,
        sender="a@example.test",
        recipients=["b@example.test"],
        security="starttls",
        ca_certificate=str(key_material / "tls.pem"),
    )
    email.initial_backoff = 0.2
    audit = SQLiteSink("audit", tmp_path / "audit.db")
    bus = EventBus([audit, email])
    bus.emit(20024, "aaa", subject="192.0.2.9", duration=60, failures=5)
    failures = wait_for(
        lambda: (
            len(audit_events(tmp_path / "audit.db", 60001)) >= 2
            and audit_events(tmp_path / "audit.db", 60001)
        )
    )
    assert failures[1]["data"]["retry_in"] > failures[0]["data"]["retry_in"]
    email.port = port  # the relay comes back
    wait_for(lambda: received)
    recovered = wait_for(lambda: audit_events(tmp_path / "audit.db", 60002))
    assert recovered[0]["data"]["failures"] >= 2
    assert (
        json.loads(message_from_bytes(received[0].as_bytes()).get_payload(decode=True))["id"]
        == 20024
    )
    email.close()
    audit.close()
