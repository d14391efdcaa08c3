"""Pure parts of the SSH service: algorithm policy, host keys, scp command lines, login steps."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from appliance.runtime.aaa.identity import AuthResult
from appliance.runtime.services.ssh import algorithms
from appliance.runtime.services.ssh.auth import Client, LoginPolicy
from appliance.runtime.services.ssh.host_keys import HostKeyError, load_host_keys
from appliance.runtime.services.ssh.scp_command import ScpCommandError, parse_scp_command


def test_policy_offers_no_weak_algorithm():
    options = algorithms.connection_options()
    names = [name for values in options.values() for name in values]
    for weak in ("sha1", "cbc", "dss", "arcfour", "md5", "3des", "umac-64", "nistp256-sha256"):
        assert not [name for name in names if weak in name], weak
    assert options["encryption_algs"][0].startswith("aes128-gcm")
    assert "curve25519-sha256" in options["kex_algs"]
    assert "ssh-rsa" not in options["signature_algs"]


def _write_key(path: Path, key) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    return path


def test_host_keys_refuse_short_rsa_and_offer_no_sha1(tmp_path):
    allowed = algorithms.connection_options()["signature_algs"]
    short = _write_key(tmp_path / "short", rsa.generate_private_key(65537, 2048))
    with pytest.raises(HostKeyError, match="RSA 2048 bits"):
        load_host_keys([short], allowed)
    with pytest.raises(HostKeyError, match="no SSH host key"):
        load_host_keys([], allowed)
    with pytest.raises(HostKeyError, match="cannot be read"):
        load_host_keys([tmp_path / "missing"], allowed)
    good = _write_key(tmp_path / "rsa", rsa.generate_private_key(65537, 3072))
    ecdsa = _write_key(tmp_path / "ecdsa", ec.generate_private_key(ec.SECP256R1()))
    rsa_pair, ecdsa_pair = load_host_keys([good, ecdsa], allowed)
    assert [a.decode() for a in rsa_pair.host_key_algorithms] == ["rsa-sha2-256", "rsa-sha2-512"]
    assert [a.decode() for a in ecdsa_pair.host_key_algorithms] == ["ecdsa-sha2-nistp256"]


@pytest.mark.parametrize(
    ("command", "upload", "paths", "recursive", "preserve"),
    [
        ("scp -t /in", True, ("/in",), False, False),
        ("scp -v -r -p -d -t -- 'a b/c'", True, ("a b/c",), True, True),
        ("scp -f file.txt", False, ("file.txt",), False, False),
        ("scp -rf -- -odd-name", False, ("-odd-name",), True, False),
    ],
)
def test_scp_command_lines(command, upload, paths, recursive, preserve):
    parsed = parse_scp_command(command)
    assert (parsed.upload, parsed.paths, parsed.recursive, parsed.preserve) == (
        upload,
        paths,
        recursive,
        preserve,
    )


@pytest.mark.parametrize(
    "command", ["ls -t x", "scp x", "scp -t -f x", "scp -t", "scp -X -t x", "scp -t 'open"]
)
def test_scp_command_lines_refused(command):
    with pytest.raises(ScpCommandError):
        parse_scp_command(command)


class _FakeAAA:
    def __init__(self, accepted: set[str]) -> None:
        self.accepted = accepted
        self.calls: list[str] = []

    def authenticate(self, credentials):
        self.calls.append(credentials.kind)
        ok = credentials.kind in self.accepted
        account = type("A", (), {"name": credentials.username})() if ok else None
        return AuthResult(ok, account, "local" if ok else None, "test")


def test_publickey_then_password_steps():
    aaa = _FakeAAA({"publickey", "password"})
    login = LoginPolicy(aaa, Client("192.0.2.1", 2222, "sftp"), "publickey,password")
    login.begin("ann")
    assert login.offers("publickey") and not login.offers("password")
    assert asyncio.run(login.public_key("ann", b"blob"))
    assert not login.complete and login.offers("password") and not login.offers("publickey")
    assert asyncio.run(login.password("ann", "pw"))
    assert login.complete and login.account.name == "ann"
    assert login.credentials.password is None  # never kept after the check
    login.begin("bob")  # a new username starts over
    assert not login.complete and login.offers("publickey")


def test_refused_factor_does_not_count():
    aaa = _FakeAAA({"password"})
    login = LoginPolicy(aaa, Client("192.0.2.1", 2222, "sftp"), "any")
    login.begin("ann")
    assert not asyncio.run(login.public_key("ann", b"blob"))
    assert not login.complete
    assert asyncio.run(login.password("ann", "pw")) and login.complete
