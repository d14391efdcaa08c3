"""SSH public keys and TLS client certificates of application accounts; source addresses."""

from __future__ import annotations

import base64
import hashlib
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.config import ConfigError
from appliance.runtime.aaa import public_keys
from appliance.runtime.aaa.passwords import hash_password
from tests.aaa_support import login, make_aaa
from tests.lab_pki import CA

HASH = hash_password("right")


def openssh(key) -> str:
    return key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def blob(line: str) -> bytes:
    return base64.b64decode(line.split()[1])


ED = ed25519.Ed25519PrivateKey.generate()
EC = ec.generate_private_key(ec.SECP384R1())
RSA_OK = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_SHORT = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - refused
DSA = dsa.generate_private_key(key_size=1024)  # noqa: S505 - refused on purpose
OTHER = ed25519.Ed25519PrivateKey.generate()


def test_certificate_with_a_password_falls_back_to_the_password(aaa):
    """FTPS sends a verified certificate and a password together: a certificate that maps to
    no account (or to another one) must not lock its holder out of a password login; one
    that maps to the account logs in whatever the password; failures count once."""
    core, bus, client, _, ca = aaa
    stranger = ca.issue("mallory", server=False)
    result = core.authenticate(login("bob", "right", certificate=stranger.der))
    assert result.accepted and result.account.name == "bob", result.reason
    assert bus.last(20137).data["credential"] == "password"
    result = core.authenticate(login("bob", "right", certificate=client.der))
    assert result.accepted and result.account.name == "bob", result.reason
    result = core.authenticate(login("carol", "anything", certificate=client.der))
    assert result.accepted and result.account.name == "carol", result.reason
    assert bus.last(20137).data["credential"] == "certificate"
    failures = bus.ids().count(20021)
    assert not core.authenticate(login("bob", "wrong", certificate=stranger.der)).accepted
    assert bus.ids().count(20021) == failures + 1


@pytest.mark.parametrize(
    ("key", "allowed"),
    [(ED, True), (EC, True), (RSA_OK, True), (RSA_SHORT, False)],
)
def test_key_types(key, allowed):
    line = openssh(key) + " comment"
    if allowed:
        assert public_keys.parse_line(line).blob == blob(line)
    else:
        with pytest.raises(public_keys.KeyError_, match="at least 2048"):
            public_keys.parse_line(line)


def test_dsa_options_and_mismatched_lines_are_refused():
    dsa_key = DSA
    for line, message in [
        (openssh(dsa_key), "not allowed"),
        ('from="10.0.0.1" ' + openssh(ED), "options are not supported"),
        ("ssh-rsa " + openssh(ED).split()[1], "says ssh-rsa but the key is ssh-ed25519"),
        ("ssh-ed25519 !!!", "not valid base64"),
    ]:
        with pytest.raises(public_keys.KeyError_, match=message):
            public_keys.parse_line(line)
    assert public_keys.parse_line("# a comment") is None
    assert not public_keys.key_allowed([], blob(openssh(dsa_key)))


@pytest.fixture
def aaa(tmp_path):
    ca = CA()
    client = ca.issue("carol", server=False)
    by_subject = ca.issue("dave", server=False)
    (tmp_path / "ann.keys").write_text(openssh(EC) + "\n# old key\n" + openssh(RSA_OK) + "\n")
    core, bus = make_aaa(
        tmp_path,
        f"""
        [server]

        [groups/users]
        home_folder_path = homes/${{USER}}
        permissions = allow-list

        [groups/office]
        source_addresses = 192.0.2.0/24

        [accounts/ann]
        groups = users
        ssh_authorized_keys = {openssh(ED)} ann@laptop
        ssh_authorized_keys_path = ann.keys

        [accounts/bob]
        groups = users
        password = {HASH}

        [accounts/carol]
        groups = users
        tls_certificate_fingerprints = {hashlib.sha256(client.der).digest().hex(":").upper()}

        [accounts/dave]
        groups = users
        tls_certificate_subject = CN=dave,O=Appliance Tests

        [accounts/erin]
        groups = users, office
        password = {HASH}

        [accounts/frank]
        groups = users, office
        password = {HASH}
        source_addresses = 2001:db8::/32, 198.51.100.7
        """,
    )
    return core, bus, client, by_subject, ca


@pytest.mark.parametrize("key", [ED, EC, RSA_OK])
def test_public_key_login(aaa, key):
    core, _, *_ = aaa
    result = core.authenticate(login("ann", public_key=blob(openssh(key))))
    assert result.accepted, result.reason
    assert "public key" in result.reason


def test_unknown_key_and_keyless_account_are_rejected(aaa):
    core, bus, *_ = aaa
    assert not core.authenticate(login("ann", public_key=blob(openssh(OTHER)))).accepted
    assert "not authorized" in bus.last(20021).data["reason"]
    assert not core.authenticate(login("bob", public_key=blob(openssh(ED)))).accepted
    assert not core.authenticate(login("ann", "anything")).accepted


def test_certificate_by_fingerprint_and_by_subject(aaa):
    core, _, client, by_subject, ca = aaa
    assert core.authenticate(login("carol", certificate=client.der)).accepted
    result = core.authenticate(login("", certificate=client.der, protocol="https"))
    assert result.accepted and result.account.name == "carol"
    assert core.authenticate(login("dave", certificate=by_subject.der)).accepted
    assert not core.authenticate(login("dave", certificate=client.der)).accepted
    stranger = ca.issue("mallory", server=False)
    assert not core.authenticate(login("", certificate=stranger.der)).accepted


@pytest.mark.parametrize(
    ("user", "address", "allowed"),
    [
        ("erin", "192.0.2.10", True),
        ("erin", "::ffff:192.0.2.10", True),
        ("erin", "198.51.100.7", False),
        ("frank", "198.51.100.7", True),
        ("frank", "2001:db8::5", True),
        ("frank", "192.0.2.10", False),
        ("bob", "203.0.113.1", True),
    ],
)
def test_source_addresses(aaa, user, address, allowed):
    core, bus, *_ = aaa
    result = core.authenticate(login(user, "right", address=address))
    assert result.accepted is allowed, result.reason
    if not allowed:
        assert "may not log in from this address" in bus.last(20021).data["reason"]


def test_parallel_logins_from_threads(aaa):
    core, _, *_ = aaa
    results: list[bool] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        ok = core.authenticate(login("bob", "right", address=f"203.0.113.{index}")).accepted
        bad = core.authenticate(login("bob", "wrong", address=f"203.0.113.{index}")).accepted
        with lock:
            results.append(ok and not bad)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 16


def test_unusable_authorized_keys_are_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="ssh_authorized_keys.*not allowed"):
        make_aaa(
            tmp_path,
            f"""
            [server]

            [accounts/ann]
            home_folder_path = h
            ssh_authorized_keys = {openssh(DSA)}
            """,
        )
