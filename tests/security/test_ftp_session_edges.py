"""FTP session edges the long fuzzing found, each ending in a logged traceback:

- a session closed by its idle timeout while a failed login waited for its delayed 530:
  pyftpdlib then re-registered the closed socket (OSError: Bad file descriptor);
- a TLS record out of place after the handshake (testssl does this): pyftpdlib let
  OpenSSL's error through as an "unhandled exception".

Now the first is a quiet end of the session, the second a clean close with event 10037;
the service keeps serving and the log has no traceback.
"""

from __future__ import annotations

import ftplib
import os
import socket
import ssl
import time

from tests.ftp_helpers import ImplicitFTP_TLS, insecure_context
from tests.running import RunningAppliance
from tests.security.site import PASSWORDS

SERVICES = """
[services/ftp]
type = ftp
address = 127.0.0.1
port = {port}
idle_connection_timeout = 1

[services/ftps]
type = ftps-implicit
address = 127.0.0.1
port = {port}
"""


def still_serves(app) -> None:
    client = ImplicitFTP_TLS(context=insecure_context())
    client.connect("127.0.0.1", app.port("ftps"), timeout=20)
    client.login("alice", PASSWORDS["alice"])
    client.quit()


def test_idle_timeout_during_a_failed_login_and_tls_records_out_of_place(tmp_path):
    with RunningAppliance(
        tmp_path, SERVICES, accounts=PASSWORDS, server_options="ban_allowlist = 127.0.0.1/32"
    ) as app:
        # Wrong password: the 530 comes after pyftpdlib's delay (3 s), longer than the idle
        # timeout (1 s) that closes the session meanwhile.
        sessions = []
        for _ in range(3):
            client = ftplib.FTP()
            client.connect("127.0.0.1", app.port("ftp"), timeout=20)
            client.sendcmd("USER alice")
            client.putcmd("PASS wrong")
            sessions.append(client)
        time.sleep(4.5)
        for client in sessions:
            client.close()

        # After a completed TLS handshake, a plaintext handshake record on the raw socket.
        refused_before = len(app.events(10037))
        raw = socket.create_connection(("127.0.0.1", app.port("ftps")), timeout=20)
        tls = insecure_context().wrap_socket(raw, server_hostname="127.0.0.1")
        assert tls.recv(1024).startswith(b"220")
        untouched = socket.socket(fileno=os.dup(tls.fileno()))
        untouched.sendall(b"\x16\x03\x03\x00\x04\x01\x00\x00\x00")
        try:
            tls.settimeout(10)
            tls.recv(1024)  # the server's alert, or the end of the connection
        except (ssl.SSLError, OSError):
            pass
        finally:
            untouched.close()
            tls.close()
        app.wait_event(10037, lambda e: len(app.events(10037)) > refused_before)

        still_serves(app)
        log = (app.root / "serve.log").read_text()
        assert "Traceback" not in log, log[log.find("Traceback") - 300 :][:3000]
