"""SSH service protection: ssh-audit, refused requests, login policies, bans, PROXY v2, limits."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

import paramiko
import pytest

from appliance.runtime.net import proxy_protocol
from tests.helpers import wait_for
from tests.ssh_support import (
    PASSWORD,
    account_section,
    askpass,
    client_key,
    paramiko_client,
    sftp_batch,
    ssh,
    ssh_appliance,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssh-security")
    key = client_key(root / "client")
    service = "banner = Authorised use only.\n"
    with ssh_appliance(root, account_section("alice", key=key), service=service) as app:
        yield app, key


def refused(app, request: str) -> dict:
    return app.wait_event(30003, lambda e: e["data"]["request"] == request)


def closed_silently(sock: socket.socket) -> bool:
    """True when the server closes the connection without sending its SSH version."""
    try:
        return sock.recv(64) == b""
    except ConnectionResetError:
        return True


def no_ssh_banner(port: int, first_bytes: bytes = b"") -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(first_bytes)
        return closed_silently(sock)


def test_ssh_audit_reports_no_failure(site):
    app, _key = site
    result = subprocess.run(
        [sys.executable, "-m", "ssh_audit", "-p", str(app.port("sftp")), "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    failures = [line for line in result.stdout.splitlines() if "[fail]" in line]
    assert result.returncode != 3 and not failures, result.stdout  # 3 is ssh-audit's FAILURE
    assert result.returncode in (0, 2), result.stdout  # good, or warnings only
    assert "kex-strict-s-v00@openssh.com" in result.stdout


def test_openssh_shell_and_command_are_refused_with_a_message(site):
    app, key = site
    shell = ssh(app.port("sftp"), key, "alice", None, "-T")
    assert shell.returncode == 1
    assert "SFTP and SCP" in shell.stderr
    command = ssh(app.port("sftp"), key, "alice", "cat /etc/passwd")
    assert command.returncode == 1
    assert "SFTP and SCP" in command.stderr and "root:" not in command.stdout
    refused(app, "shell")
    assert refused(app, "exec")["data"]["command"] == "cat /etc/passwd"


def test_forwarding_agent_x11_and_unknown_subsystem_are_refused(site):
    app, key = site
    client = paramiko_client(app, key_filename=str(key.private))
    transport = client.get_transport()
    try:
        assert transport.get_banner().decode().strip() == "Authorised use only."
        with pytest.raises(paramiko.ChannelException):
            transport.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 4000))
        with pytest.raises(paramiko.SSHException):
            transport.request_port_forward("127.0.0.1", 0)
        channel = transport.open_session()
        with pytest.raises(paramiko.SSHException):
            channel.request_x11(auth_protocol="MIT-MAGIC-COOKIE-1", auth_cookie="00" * 16)
        transport.open_session().request_forward_agent(lambda _channel: None)
        other = transport.open_session()
        with pytest.raises(paramiko.SSHException):
            other.invoke_subsystem("netconf")
        # the connection stays usable for what the service offers
        assert client.open_sftp().listdir(".") == []
    finally:
        client.close()
    assert refused(app, "port forwarding")["data"]["target"] == "127.0.0.1:22"
    refused(app, "remote port forwarding")
    refused(app, "X11 forwarding")
    refused(app, "agent forwarding")
    assert refused(app, "subsystem")["data"]["subsystem"] == "netconf"


def test_publickey_then_password_is_required_when_configured(tmp_path):
    key = client_key(tmp_path / "client")
    service = "ssh_authentication = publickey,password\n"
    with ssh_appliance(tmp_path, account_section("bob", key=key), service=service) as app:
        pkey = paramiko.Ed25519Key.from_private_key_file(str(key.private))
        port = app.port("sftp")
        with paramiko.Transport(("127.0.0.1", port)) as transport:
            transport.start_client(timeout=10)
            with pytest.raises(paramiko.BadAuthenticationType) as offered:
                transport.auth_password("bob", PASSWORD)
            assert offered.value.allowed_types == ["publickey"]
            assert "password" in transport.auth_publickey("bob", pkey)  # partial success
            assert not transport.is_authenticated()
            with pytest.raises(paramiko.AuthenticationException):
                transport.auth_password("bob", "wrong password")
            assert transport.auth_password("bob", PASSWORD) == []
            assert transport.is_authenticated()
        app.home("bob").mkdir(parents=True, exist_ok=True)
        (tmp_path / "f.txt").write_bytes(b"two factors\n")
        result = sftp_batch(
            port,
            "bob",
            "put f.txt\n",
            tmp_path,
            key,
            env=askpass(tmp_path),
            methods="publickey,password",
        )
        assert result.returncode == 0, result.stderr
        assert (app.home("bob") / "f.txt").read_bytes() == b"two factors\n"
        credentials = [e["data"]["credential"] for e in app.events(20137)]
        assert credentials.count("publickey") >= 2 and credentials.count("password") >= 2


def test_keyboard_interactive_login(site):
    app, _key = site
    with paramiko.Transport(("127.0.0.1", app.port("sftp"))) as transport:
        transport.start_client(timeout=10)
        transport.auth_interactive("alice", lambda title, text, prompts: [PASSWORD] * len(prompts))
        assert transport.is_authenticated()


def test_idle_connections_are_closed(tmp_path):
    key = client_key(tmp_path / "client")
    service = "idle_connection_timeout = 1\n"
    with ssh_appliance(tmp_path, account_section("alice", key=key), service=service) as app:
        client = paramiko_client(app, key_filename=str(key.private))
        try:
            app.wait_event(30005)
            wait_for(lambda: not client.get_transport().is_active(), timeout=10)
        finally:
            client.close()


def test_connection_limit(tmp_path):
    key = client_key(tmp_path / "client")
    service = "maximum_concurrent_connections = 1\n"
    with ssh_appliance(tmp_path, account_section("alice", key=key), service=service) as app:
        first = paramiko_client(app, key_filename=str(key.private))
        try:
            assert no_ssh_banner(app.port("sftp"))
            assert app.wait_event(20026)["data"]["limit"] == 1
        finally:
            first.close()
        app.wait_event(30002)
        second = wait_for(lambda: _try_login(app, key), timeout=10)
        second.close()


def _try_login(app, key):
    try:
        return paramiko_client(app, key_filename=str(key.private))
    except (paramiko.SSHException, OSError):
        return None


def proxied_transport(port: int, source: str) -> paramiko.Transport:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(proxy_protocol.build((source, 40000), ("192.0.2.1", 22)))
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=10)
    return transport


def test_proxy_protocol_and_bans_see_the_real_client(tmp_path):
    key = client_key(tmp_path / "client")
    server = "trusted_proxies = 127.0.0.1\nban_failures = 2\nban_duration = 600\n"
    with ssh_appliance(tmp_path, account_section("alice", key=key), server_options=server) as app:
        port = app.port("sftp")
        attacker, customer = "203.0.113.7", "198.51.100.9"
        for _ in range(2):
            with (
                proxied_transport(port, attacker) as transport,
                pytest.raises(paramiko.AuthenticationException),
            ):
                transport.auth_password("mallory", "guess")
        app.wait_event(20024)
        # banned: no SSH version, no key exchange, no login
        assert no_ssh_banner(port, proxy_protocol.build((attacker, 40001), ("192.0.2.1", 22)))
        banned = app.wait_event(20023)
        assert banned["peer"].startswith(attacker)
        with proxied_transport(port, customer) as transport:
            transport.auth_password("alice", PASSWORD)
            assert transport.is_authenticated()
        opened = [e["peer"] for e in app.events(30001)]
        assert f"{customer}:40000" in opened and f"{attacker}:40000" in opened
        login = app.wait_event(20137)
        assert login["peer"] == f"{customer}:40000"
        assert no_ssh_banner(port, b"SSH-2.0-OpenSSH_9.2\r\n")  # a proxy must send the header
        assert app.wait_event(30006)["peer"].startswith("127.0.0.1")


def test_bans_refuse_before_any_check(tmp_path):
    server = "ban_failures = 2\nban_duration = 600\n"
    with ssh_appliance(tmp_path, account_section("alice"), server_options=server) as app:
        for _ in range(2):
            with paramiko.Transport(("127.0.0.1", app.port("sftp"))) as transport:
                transport.start_client(timeout=10)
                with pytest.raises(paramiko.AuthenticationException):
                    transport.auth_password("mallory", "guess")
        app.wait_event(20024)
        started = time.monotonic()
        assert no_ssh_banner(app.port("sftp"))
        assert time.monotonic() - started < 30
        app.wait_event(20023)
        failures = [e for e in app.events(20021)]
        assert len(failures) == 2  # the banned attempt never reached authentication


pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client missing")
