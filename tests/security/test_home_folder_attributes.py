"""A user cannot change the attributes of their own home folder (chmod 000 would lock the
account out): refused over FTP (550) and SFTP (permission denied) by the shared VFS."""

from __future__ import annotations

import asyncio
import ftplib
import stat

import asyncssh
import pytest

from tests.security.escape_ssh import connect as ssh_connect
from tests.security.hardening_site import ALICE_PASSWORD, hardening_appliance


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with hardening_appliance(tmp_path_factory.mktemp("home-attributes")) as running:
        yield running


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ftp_site_chmod_of_the_home_folder_is_refused(app):
    client = ftplib.FTP()
    client.connect("127.0.0.1", app.port("ftp"), timeout=60)
    client.login("alice", ALICE_PASSWORD)
    home = app.home("alice")
    before = _mode(home)
    for target in ("/", "."):
        with pytest.raises(ftplib.error_perm) as refused:
            client.sendcmd(f"SITE CHMOD 000 {target}")
        assert str(refused.value).startswith("550")
    client.mkd("sub")
    client.sendcmd("SITE CHMOD 700 sub")  # below the home folder it still works
    assert _mode(home / "sub") == 0o700
    client.quit()
    assert _mode(home) == before
    assert app.events(20040)


def test_sftp_chmod_of_the_home_folder_is_refused(app):
    home = app.home("alice")
    home.mkdir(parents=True, exist_ok=True)
    before = _mode(home)

    async def attempt() -> list[int]:
        codes = []
        connection = await ssh_connect(app.port("sftp"), "alice", ALICE_PASSWORD)
        async with connection as conn, conn.start_sftp_client() as sftp:
            for target in ("/", "."):
                try:
                    await sftp.chmod(target, 0)
                except asyncssh.SFTPError as error:
                    codes.append(error.code)
                else:
                    codes.append(0)
        return codes

    codes = asyncio.run(attempt())
    assert codes == [asyncssh.sftp.FX_PERMISSION_DENIED] * 2
    assert _mode(home) == before
