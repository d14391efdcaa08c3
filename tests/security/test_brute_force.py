"""Password guessing over FTP, FTPS, SFTP and HTTP(S) is banned within `ban_failures`, and the
ban (of the address, and of the account) holds on every other protocol, even for the right
password. Each protocol attacks from its own loopback address and against its own account.
"""

from __future__ import annotations

import asyncio
import ftplib
import http.client
import json
import socket

import asyncssh
import pytest

from tests.ftp_helpers import ImplicitFTP_TLS, insecure_context
from tests.running import RunningAppliance
from tests.security.site import services

BAN_FAILURES = 4
VICTIMS = {"ftp": "victor", "ftps": "wendy", "sftp": "xavier", "http": "yvonne", "https": "zack"}
ATTACKERS = {"ftp": "127.0.0.21", "ftps": "127.0.0.22", "sftp": "127.0.0.23", "http": "127.0.0.24",
             "https": "127.0.0.25"}  # fmt: skip
PASSWORD = "the-right-one"
BYSTANDER = "quinn"
WRONG, BANNED, ACCEPTED = "wrong", "banned", "accepted"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("brute")
    accounts = {name: PASSWORD for name in (*VICTIMS.values(), BYSTANDER)}
    options = f"ban_failures = {BAN_FAILURES}\nban_window = 600\nban_duration = 900"
    running = RunningAppliance(
        root, services((62380, 62399)), accounts=accounts, server_options=options
    )
    with running:
        yield running


class SourcedImplicitFTP_TLS(ImplicitFTP_TLS):
    """Implicit FTPS from a chosen local address."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        self.host, self.port, self.timeout = host, port, timeout
        raw = socket.create_connection((host, port), timeout, source_address=source_address)
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def ftp_login(port: int, source: str, user: str, password: str, tls: bool) -> str:
    client = SourcedImplicitFTP_TLS(context=insecure_context()) if tls else ftplib.FTP()
    try:
        client.connect("127.0.0.1", port, timeout=10, source_address=(source, 0))
        client.login(user, password)
    except ftplib.error_perm as error:
        return WRONG if str(error).startswith("530") else BANNED
    except (ftplib.error_temp, EOFError, OSError):
        return BANNED  # refused at connect: 421 or a closed connection
    client.close()
    return ACCEPTED


async def _ssh_login(port: int, source: str, user: str, password: str) -> str:
    try:
        conn = await asyncssh.connect(
            "127.0.0.1", port, local_addr=(source, 0), username=user, password=password,
            known_hosts=None, client_keys=None, agent_path=None, login_timeout=10,
        )  # fmt: skip
    except asyncssh.PermissionDenied:
        return WRONG
    except (asyncssh.Error, OSError):
        return BANNED  # closed before the version exchange
    conn.close()
    return ACCEPTED


def ssh_login(port: int, source: str, user: str, password: str) -> str:
    return asyncio.run(_ssh_login(port, source, user, password))


def http_login(port: int, source: str, user: str, password: str, tls: bool) -> str:
    if tls:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", port, source_address=(source, 0), context=insecure_context()
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        body = json.dumps({"username": user, "password": password})
        conn.request("POST", "/api/login", body, {"content-type": "application/json"})
        status = conn.getresponse().status
    except OSError:
        return BANNED
    finally:
        conn.close()
    return {200: ACCEPTED, 401: WRONG, 403: BANNED}.get(status, f"status {status}")


def login(app, protocol: str, source: str, user: str, password: str) -> str:
    if protocol in ("ftp", "ftps"):
        return ftp_login(app.port(protocol), source, user, password, protocol == "ftps")
    if protocol == "sftp":
        return ssh_login(app.port("sftp"), source, user, password)
    port = app.port("webs" if protocol == "https" else "web")
    return http_login(port, source, user, password, protocol == "https")


@pytest.mark.parametrize("protocol", list(VICTIMS))
def test_guessing_is_banned_and_the_ban_holds_everywhere(app, protocol):
    victim, attacker = VICTIMS[protocol], ATTACKERS[protocol]
    assert login(app, protocol, "127.0.0.1", victim, PASSWORD) == ACCEPTED
    outcomes = []
    for guess in range(3 * BAN_FAILURES):
        outcomes.append(login(app, protocol, attacker, victim, f"guess-{guess}"))
        if outcomes[-1] == BANNED:
            break
    assert BANNED in outcomes, outcomes
    wrong = outcomes.index(BANNED)
    assert 1 <= wrong <= BAN_FAILURES, outcomes
    assert app.wait_event(20024, lambda e: e["data"]["subject"] == f"address {attacker}")
    assert app.wait_event(20024, lambda e: e["data"]["subject"] == f"account {victim}")
    for other in VICTIMS:
        # the address is banned for every protocol, even with a right password
        assert login(app, other, attacker, VICTIMS[other], PASSWORD) == BANNED, other
        # and the guessed account from a clean address
        fresh = f"127.0.1.{list(VICTIMS).index(protocol) + 1}"
        assert login(app, other, fresh, victim, PASSWORD) != ACCEPTED, other
    # other accounts from clean addresses are not affected
    assert login(app, protocol, "127.0.0.1", BYSTANDER, PASSWORD) == ACCEPTED
