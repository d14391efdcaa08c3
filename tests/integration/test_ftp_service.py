"""The FTP service driven with Python's ftplib: logins, permissions, transfers, TLS, limits."""

from __future__ import annotations

import ftplib
import socket
import struct
import time

import pytest

from tests.ftp_helpers import (
    PASSWORD,
    SERVICES,
    ImplicitFTP_TLS,
    ReusingFTP_TLS,
    download,
    insecure_context,
    login,
    reader_account,
    upload,
)
from tests.running import RunningAppliance


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("ftp")
    with RunningAppliance(
        root, SERVICES, accounts={"alice": PASSWORD}, extra=reader_account()
    ) as running:
        yield running


def events_of(app, event_id, **data):
    return [e for e in app.events(event_id) if all(e["data"].get(k) == v for k, v in data.items())]


def test_plain_login_transfer_and_events(app):
    payload = b"0123456789" * 100_000
    with login(app.port("ftp")) as client:
        assert upload(client, "plain.bin", payload).startswith("226")
        assert (app.home("alice") / "plain.bin").read_bytes() == payload
        assert download(client, "plain.bin") == payload
        assert client.size("plain.bin") == len(payload)
        assert "plain.bin" in client.nlst()
        facts = dict(client.mlsd())["plain.bin"]
        assert facts["type"] == "file" and facts["size"] == str(len(payload))
        assert "r" in facts["perm"] and "w" in facts["perm"]
    uploaded = app.wait_event(20050, lambda e: e["data"]["path"] == "/plain.bin")
    assert uploaded["data"]["bytes"] == len(payload) and "duration" in uploaded["data"]
    downloaded = app.wait_event(20052, lambda e: e["data"]["path"] == "/plain.bin")
    assert downloaded["data"]["bytes"] == len(payload)
    assert app.wait_event(10033, lambda e: e["data"]["service"] == "ftp")
    assert app.wait_event(20137, lambda e: e["account"] == "alice")
    assert app.wait_event(10034, lambda e: e["account"] == "alice")


def test_wrong_password_is_refused_with_530(app):
    client = ftplib.FTP()
    client.connect("127.0.0.1", app.port("ftp"), timeout=20)
    with pytest.raises(ftplib.error_perm, match="^530"):
        client.login("alice", "wrong")
    client.close()
    assert app.wait_event(20021, lambda e: e["data"]["username"] == "alice")


def test_denied_operations_get_550(app):
    (app.home("alice") / "shared.txt").write_bytes(b"x")
    (app.home("reader") / "Inbox").mkdir(parents=True, exist_ok=True)
    (app.home("reader") / "seen.txt").write_bytes(b"read me")
    with login(app.port("ftp"), "reader") as client:
        assert download(client, "seen.txt") == b"read me"
        for command in (
            lambda: upload(client, "outside.txt", b"no"),
            lambda: client.delete("seen.txt"),
            lambda: client.mkd("newdir"),
            lambda: client.rename("seen.txt", "renamed.txt"),
            lambda: client.sendcmd("SITE CHMOD 600 seen.txt"),
        ):
            with pytest.raises(ftplib.error_perm, match="^550"):
                command()
        assert upload(client, "Inbox/allowed.txt", b"ok").startswith("226")
    assert not (app.home("reader") / "outside.txt").exists()
    assert (app.home("reader") / "seen.txt").exists()
    assert (app.home("reader") / "Inbox" / "allowed.txt").read_bytes() == b"ok"
    assert app.wait_event(20040, lambda e: e["account"] == "reader")


def test_paths_cannot_leave_the_home_folder(app):
    with login(app.port("ftp")) as client:
        client.cwd("../../..")
        assert client.pwd() == "/"
        with pytest.raises(ftplib.error_perm, match="^55"):
            download(client, "../../../../etc/passwd")


def _abort_upload_midway(client: ftplib.FTP, name: str, first: bytes) -> None:
    connection = client.transfercmd(f"STOR {name}")
    connection.sendall(first)
    time.sleep(0.2)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.putcmd("ABOR")
    connection.close()  # RST: the server sees an error, not a clean end of file
    replies = [client.getline()]
    while not replies[-1].startswith(("225", "226")):
        replies.append(client.getline())


def test_aborted_upload_leaves_no_file_under_its_name(app):
    with login(app.port("ftp")) as client:
        _abort_upload_midway(client, "aborted.bin", b"a" * 300_000)
        assert "aborted.bin" not in client.nlst()
        client.voidcmd("NOOP")
    assert not (app.home("alice") / "aborted.bin").exists()
    assert app.wait_event(20051, lambda e: e["data"]["path"] == "/aborted.bin")


def test_rest_resumes_a_download(app):
    payload = bytes(range(256)) * 4000
    (app.home("alice") / "resume-down.bin").write_bytes(payload)
    with login(app.port("ftp")) as client:
        assert download(client, "resume-down.bin", rest=500_000) == payload[500_000:]
        with pytest.raises(ftplib.error_perm, match="^554"):
            download(client, "resume-down.bin", rest=len(payload) + 1)


def test_rest_resumes_an_interrupted_upload(app):
    payload = bytes(range(256)) * 4000
    with login(app.port("ftp")) as client:
        _abort_upload_midway(client, "resume-up.bin", payload[:400_000])
        assert not (app.home("alice") / "resume-up.bin").exists()
        stored = client.size("resume-up.bin")
        assert 0 < stored <= 400_000
        connection = client.transfercmd("STOR resume-up.bin", rest=stored)
        connection.sendall(payload[stored:])
        connection.close()
        assert client.voidresp().startswith("226")
    assert (app.home("alice") / "resume-up.bin").read_bytes() == payload


def test_passive_ports_stay_in_the_range(app):
    with login(app.port("ftp")) as client:
        ports = {client.makepasv()[1] for _ in range(10)}
    assert all(62100 <= port <= 62139 for port in ports)


def test_passive_address_is_announced(app):
    with login(app.port("ftp-nat")) as client:
        reply = client.sendcmd("PASV")
        assert "(192,0,2,10," in reply
        port = int(client.sendcmd("EPSV").split("|||")[1].split("|")[0])
        assert 62140 <= port <= 62149


def test_epsv_over_ipv6(app):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    with login(app.port("ftp-nat"), host="::1") as client:
        assert upload(client, "v6.txt", b"over ipv6").startswith("226")
        assert download(client, "v6.txt") == b"over ipv6"


def test_port_to_a_foreign_address_is_refused(app):
    with login(app.port("ftp")) as client:
        with pytest.raises(ftplib.error_perm, match="^501"):
            client.sendcmd("PORT 10,0,0,1,200,10")
        with pytest.raises(ftplib.error_perm, match="^501"):
            client.sendcmd("EPRT |1|10.0.0.1|51210|")
    assert app.wait_event(10036, lambda e: e["data"]["command"] == "PORT")


def test_session_limit(app):
    first, second = login(app.port("ftp-nat")), login(app.port("ftp-nat"))
    third = ftplib.FTP()
    with pytest.raises(ftplib.error_temp, match="^421"):
        third.connect("127.0.0.1", app.port("ftp-nat"), timeout=20)
    first.quit()
    second.quit()
    assert app.wait_event(20026, lambda e: e["data"]["service"] == "ftp-nat")


def test_explicit_ftps_with_protected_data(app):
    client = ReusingFTP_TLS(context=insecure_context())
    client.connect("127.0.0.1", app.port("ftps-strict"), timeout=20)
    client.auth()
    client.login("alice", PASSWORD)
    client.prot_p()
    client.voidcmd("TYPE I")
    payload = b"secret" * 200_000
    assert upload(client, "tls.bin", payload).startswith("226")
    assert download(client, "tls.bin") == payload
    client.quit()
    control = app.wait_event(10035, lambda e: e["data"]["channel"] == "control")
    assert control["data"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert app.wait_event(10035, lambda e: e["data"]["channel"] == "data")
    assert app.wait_event(20137, lambda e: e["data"]["protocol"] == "ftps")


def test_user_before_auth_tls_is_refused_when_required(app):
    client = ftplib.FTP()
    client.connect("127.0.0.1", app.port("ftps-strict"), timeout=20)
    with pytest.raises(ftplib.error_perm, match="^530 .*AUTH TLS"):
        client.sendcmd("USER alice")
    client.close()


def test_prot_p_is_required_when_configured(app):
    client = ftplib.FTP_TLS(context=insecure_context())
    client.connect("127.0.0.1", app.port("ftps-strict"), timeout=20)
    client.login("alice", PASSWORD)  # FTP_TLS sends AUTH TLS first
    with pytest.raises(ftplib.error_perm, match="^522 .*PROT P"):
        client.sendcmd("PASV")
    client.sendcmd("PBSZ 0")
    with pytest.raises(ftplib.error_perm, match="^534"):
        client.sendcmd("PROT C")
    client.quit()


def test_tls_is_offered_on_plain_ftp_service(app):
    client = ftplib.FTP_TLS(context=insecure_context())
    client.connect("127.0.0.1", app.port("ftp"), timeout=20)
    client.login("alice", PASSWORD)
    client.prot_p()
    client.voidcmd("TYPE I")
    assert upload(client, "over-tls.txt", b"tls on ftp").startswith("226")
    assert download(client, "over-tls.txt") == b"tls on ftp"
    client.quit()


def test_implicit_ftps(app):
    client = ImplicitFTP_TLS(context=insecure_context())
    assert client.connect("127.0.0.1", app.port("ftps-implicit")).startswith("220")
    client.login("alice", PASSWORD)
    client.prot_p()
    client.voidcmd("TYPE I")
    assert upload(client, "implicit.bin", b"i" * 70_000).startswith("226")
    assert download(client, "implicit.bin") == b"i" * 70_000
    client.quit()
