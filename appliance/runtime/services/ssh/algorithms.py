"""The SSH algorithm policy: what the service offers, chosen to pass ssh-audit with no failure.

No SHA-1 key exchange, MAC or host key signature (an RSA host key is offered as
rsa-sha2-256/512 only, never as ssh-rsa), no CBC, no DSA, no short MAC tags. AES-GCM
comes first among ciphers: asyncssh pays a new cipher context per packet for
chacha20-poly1305, so GCM is the faster of the two on this engine. Strict key exchange
(the Terrapin fix) is negotiated by asyncssh on its own.
"""

from __future__ import annotations

import asyncssh
from asyncssh.compression import get_compression_algs
from asyncssh.encryption import get_encryption_algs
from asyncssh.kex import get_kex_algs
from asyncssh.mac import get_mac_algs
from asyncssh.public_key import get_public_key_algs

KEY_EXCHANGE = (
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group16-sha512",
)
ENCRYPTION = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
)
MAC = (
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "umac-128-etm@openssh.com",
    # Encrypt-and-MAC, last: ssh-audit warns (not fails) about them; libssh2 before 1.11
    # (curl on Debian 12) has no ETM MAC and could not connect without them.
    "hmac-sha2-256",
    "hmac-sha2-512",
)
SIGNATURE = (
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
)
COMPRESSION = ("none",)


def _available(wanted: tuple[str, ...], supported: list[bytes]) -> list[str]:
    """`wanted`, in order, keeping what this build of asyncssh (and its crypto) can do."""
    have = {name.decode("ascii") for name in supported}
    return [name for name in wanted if name in have]


def host_key_pairs(keys: list[asyncssh.SSHKey]) -> list[asyncssh.SSHKeyPair]:
    """The host keys, each offered only under the signature algorithms of the policy.

    asyncssh offers an RSA host key as ssh-rsa (SHA-1) too; ssh-audit fails that.
    """
    wanted = {name.encode("ascii") for name in SIGNATURE}
    pairs = asyncssh.load_keypairs(keys)
    for pair in pairs:
        pair.host_key_algorithms = [alg for alg in pair.host_key_algorithms if alg in wanted]
        pair.sig_algorithms = [alg for alg in pair.sig_algorithms if alg in wanted]
    return [pair for pair in pairs if pair.host_key_algorithms]


def connection_options() -> dict[str, list[str]]:
    """Keyword arguments for asyncssh's SSHServerConnectionOptions."""
    return {
        "kex_algs": _available(KEY_EXCHANGE, get_kex_algs()),
        "encryption_algs": _available(ENCRYPTION, get_encryption_algs()),
        "mac_algs": _available(MAC, get_mac_algs()),
        "signature_algs": _available(SIGNATURE, get_public_key_algs()),
        "compression_algs": _available(COMPRESSION, get_compression_algs()),
    }
