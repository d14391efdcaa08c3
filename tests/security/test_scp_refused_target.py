"""A refused scp target path, or a client that closes its side of the channel before the scp
command is over, ends that scp command with an error, never the SSH connection.

The long path-escape run lost the connection 7 times in 3 000 scp attempts: each time after a
`scp -r -f` of a folder with more entries than the client acknowledged before closing its
input, which raised ConnectionError out of the channel's task (asyncssh then closes the whole
connection). EARLY_CLOSE replays that and its relatives on the upload side.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.security import escape_ssh
from tests.security.site import PASSWORDS
from tests.ssh_support import account_section, ssh_appliance

REFUSED = (b"..\\..\\etc", "\u2025/\u2025/x".encode(), b"link-out", b"a\x00b")
EARLY_CLOSE = {
    "fetch-recursive": ("scp -r -f many", b"\0" * 16),
    "fetch-recursive-home": ("scp -r -f ''", b"\0" * 16),
    "fetch-several": ("scp -f many/f0.txt many/f1.txt many/f2.txt", b"\0"),
    "send-short-file": ("scp -t .", b"C0644 100 short.txt\n" + b"x" * 10),
    "send-half-line": ("scp -t .", b"C0644 5 half.txt"),
    "send-no-final-status": ("scp -t .", b"C0644 5 nostatus.txt\nhello"),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("scp-target")
    accounts = account_section("alice", password=PASSWORDS["alice"])
    with ssh_appliance(root, accounts) as running:
        yield running


async def refused_then_served(port: int, raw: bytes, operation: str) -> bytes:
    conn = await escape_ssh.connect(port, "alice", PASSWORDS["alice"])
    async with conn:
        sftp = await conn.start_sftp_client()
        output = await escape_ssh.scp_attempt(conn, operation, raw)
        await sftp.listdir(b"/")  # the SFTP channel opened before still answers
        again = await escape_ssh.scp_attempt(conn, "send", b"ok.txt")
        assert again == b"\0\0\0"
        return output


def prepare_home(app):
    home = app.home("alice")
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "link-out").is_symlink():
        (home / "link-out").symlink_to("/etc")
    (home / "many").mkdir(exist_ok=True)
    for index in range(12):
        (home / "many" / f"f{index}.txt").write_bytes(b"data %d\n" % index)
    return home


async def closed_early_then_served(port: int, command: str, sent: bytes) -> tuple[bytes, int]:
    conn = await escape_ssh.connect(port, "alice", PASSWORDS["alice"])
    async with conn:
        sftp = await conn.start_sftp_client()
        process = await conn.create_process(command, encoding=None)
        process.stdin.write(sent)
        process.stdin.write_eof()
        output = await process.stdout.read()
        await process.wait_closed()
        await sftp.listdir(b"/")  # the SFTP channel opened before still answers
        again = await escape_ssh.scp_attempt(conn, "send", b"ok.txt")
        assert again == b"\0\0\0"
        return output, process.exit_status


@pytest.mark.parametrize("case", EARLY_CLOSE)
def test_client_closing_early_ends_only_the_command(app, case):
    home = prepare_home(app)
    command, sent = EARLY_CLOSE[case]
    output, status = asyncio.run(closed_early_then_served(app.port("sftp"), command, sent))
    assert status == 1, output
    assert b"\x02scp: " in output or b"\x01scp: " in output, output
    assert not any(home.glob("short.txt")) and not any(home.glob("nostatus.txt"))
    assert "Traceback" not in (app.root / "serve.log").read_text()


@pytest.mark.parametrize("raw", REFUSED)
@pytest.mark.parametrize("operation", ["send", "send-named", "fetch"])
def test_refused_target_is_an_scp_error(app, raw, operation):
    prepare_home(app)
    output = asyncio.run(refused_then_served(app.port("sftp"), raw, operation))
    assert output.startswith((b"\x01scp: ", b"\x02scp: ", b"\0\x01scp: ", b"\0\x02scp: ")), output
    assert "Traceback" not in (app.root / "serve.log").read_text()
