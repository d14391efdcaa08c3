"""SSH host keys: read the configured files and refuse weak or unknown key types."""

from __future__ import annotations

from pathlib import Path

import asyncssh
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_private_key

MIN_RSA_BITS = 3072


class HostKeyError(ValueError):
    """A host key file that the service will not use; the message says which and why."""


def _check_type(path: Path, data: bytes) -> None:
    try:
        key = load_ssh_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise HostKeyError(
            f"SSH host key {path} is not an unencrypted OpenSSH private key: {error}"
        ) from None
    if isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        return
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise HostKeyError(
                f"SSH host key {path} is RSA {key.key_size} bits; use at least {MIN_RSA_BITS}"
            )
        return
    raise HostKeyError(
        f"SSH host key {path} is a {type(key).__name__}; expected ed25519, ecdsa or rsa"
    )


def restrict(keypair: asyncssh.SSHKeyPair, allowed: list[str]) -> asyncssh.SSHKeyPair:
    """Offer the key only with allowed signature algorithms (an RSA key: no SHA-1 ssh-rsa)."""
    keypair.host_key_algorithms = [
        name for name in keypair.host_key_algorithms if name.decode("ascii") in allowed
    ]
    return keypair


def load_host_keys(paths: list[Path], allowed: list[str]) -> list[asyncssh.SSHKeyPair]:
    """The key pairs, in order; HostKeyError when none is configured or one is unusable."""
    if not paths:
        raise HostKeyError(
            "no SSH host key configured: set ssh_server_keys in [server] or in the service"
        )
    keys = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise HostKeyError(f"SSH host key {path} cannot be read: {error.strerror}") from None
        _check_type(path, data)
        (keypair,) = asyncssh.load_keypairs([asyncssh.import_private_key(data)])
        keys.append(restrict(keypair, allowed))
    return keys
