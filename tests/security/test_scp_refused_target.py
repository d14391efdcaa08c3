"""A refused scp target path ends that scp command with an error, not the SSH connection."""

from __future__ import annotations

import asyncio

import pytest

from tests.security import escape_ssh
from tests.security.site import PASSWORDS
from tests.ssh_support import account_section, ssh_appliance

REFUSED = (b"..\\..\\etc", "\u2025/\u2025/x".encode(), b"link-out", b"a\x00b")


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


@pytest.mark.parametrize("raw", REFUSED)
@pytest.mark.parametrize("operation", ["send", "send-named", "fetch"])
def test_refused_target_is_an_scp_error(app, raw, operation):
    home = app.home("alice")
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "link-out").is_symlink():
        (home / "link-out").symlink_to("/etc")
    output = asyncio.run(refused_then_served(app.port("sftp"), raw, operation))
    assert output.startswith((b"\x01scp: ", b"\x02scp: ", b"\0\x01scp: ", b"\0\x02scp: ")), output
    assert "Traceback" not in (app.root / "serve.log").read_text()
