"""The FTP service driven with curl and lftp, and kept across a reload of another service."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.ftp_helpers import PASSWORD, SERVICES, download, login, tree_digest, upload
from tests.running import RunningAppliance

TLS_OFF_VERIFY = "set ssl:verify-certificate no; set ftp:ssl-protect-data yes; "


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("ftp-clients")
    with RunningAppliance(root, SERVICES, accounts={"alice": PASSWORD}) as running:
        yield running


def curl(*args: str) -> subprocess.CompletedProcess:
    command = ["curl", "--silent", "--show-error", "--user", f"alice:{PASSWORD}", *args]
    return subprocess.run(command, capture_output=True, timeout=60, check=True)


def lftp(url: str, script: str) -> subprocess.CompletedProcess:
    command = ["lftp", "-u", f"alice,{PASSWORD}", "-e", f"{script}; bye", url]
    env = {**os.environ, "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(command, capture_output=True, timeout=240, check=True, env=env)


@pytest.mark.parametrize(
    ("service", "scheme", "options"),
    [
        ("ftp", "ftp", ()),
        ("ftps-strict", "ftp", ("--ssl-reqd", "--insecure")),
        ("ftps-implicit", "ftps", ("--insecure",)),
    ],
)
def test_curl_upload_and_download(app, tmp_path, service, scheme, options):
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3_000_000))
    url = f"{scheme}://127.0.0.1:{app.port(service)}/curl-{service}.bin"
    curl(*options, "--upload-file", str(source), url)
    fetched = curl(*options, url).stdout
    assert fetched == source.read_bytes()
    listing = curl(*options, f"{scheme}://127.0.0.1:{app.port(service)}/").stdout.decode()
    assert f"curl-{service}.bin" in listing


def test_curl_plain_is_refused_where_tls_is_required(app):
    url = f"ftp://127.0.0.1:{app.port('ftps-strict')}/"
    result = subprocess.run(
        ["curl", "--silent", "--user", f"alice:{PASSWORD}", url], capture_output=True, timeout=60
    )
    assert result.returncode != 0


def test_lftp_mirror_of_500_files_both_ways_over_explicit_ftps(app, tmp_path):
    local = tmp_path / "tree"
    for index in range(500):
        folder = local / f"d{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}.bin").write_bytes(os.urandom(index * 37 % 9000 + 1))
    url = f"ftp://127.0.0.1:{app.port('ftps-strict')}"
    lftp(url, f"{TLS_OFF_VERIFY}mirror --reverse --parallel=4 {local} /tree")
    assert tree_digest(app.home("alice") / "tree") == tree_digest(local)
    back = tmp_path / "back"
    lftp(url, f"{TLS_OFF_VERIFY}mirror --parallel=4 /tree {back}")
    assert tree_digest(back) == tree_digest(local)


def test_reload_keeps_sessions_of_unchanged_services(app):
    with login(app.port("ftp")) as kept, login(app.port("ftp-nat")) as changed:
        upload(kept, "before-reload.txt", b"kept")
        app.services_text = SERVICES.replace("maximum_concurrent_connections = 2", "banner = New")
        app.write_config()
        app.reload()
        app.wait_event(20080)
        assert kept.voidcmd("NOOP").startswith("200")
        assert download(kept, "before-reload.txt") == b"kept"
        with pytest.raises((EOFError, OSError)):
            changed.voidcmd("NOOP")
    with login(app.port("ftp-nat")) as fresh:
        assert fresh.welcome.startswith("220 New")
