"""One normalisation rule for account names on every protocol: a fullwidth "ａｌｉｃｅ" is
"alice" over FTP and HTTP exactly as over SSH (whose library applies SASLprep/NFKC)."""

from __future__ import annotations

import asyncio
import base64
import ftplib
import http.client

import pytest

from tests.security.escape_ssh import connect as ssh_connect
from tests.security.hardening_site import ALICE_PASSWORD, hardening_appliance

FULLWIDTH = "ａｌｉｃｅ"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with hardening_appliance(tmp_path_factory.mktemp("names")) as running:
        yield running


def test_fullwidth_name_is_the_same_account_over_every_protocol(app):
    client = ftplib.FTP(encoding="utf-8")
    client.connect("127.0.0.1", app.port("ftp"), timeout=60)
    assert client.login(FULLWIDTH, ALICE_PASSWORD).startswith("230")
    client.quit()

    conn = http.client.HTTPConnection("127.0.0.1", app.port("web"), timeout=60)
    token = base64.b64encode(f"{FULLWIDTH}:{ALICE_PASSWORD}".encode()).decode()
    conn.request("GET", "/api/session", headers={"authorization": f"Basic {token}"})
    assert conn.getresponse().status == 200
    conn.close()

    async def sftp_login() -> None:
        connection = await ssh_connect(app.port("sftp"), FULLWIDTH, ALICE_PASSWORD)
        async with connection as conn, conn.start_sftp_client() as sftp:
            await sftp.listdir(".")

    asyncio.run(sftp_login())
    accepted = app.events(20137)
    protocols = {e["data"]["protocol"] for e in accepted if e["account"] == "alice"}
    assert {"ftp", "http", "ssh"} <= protocols
