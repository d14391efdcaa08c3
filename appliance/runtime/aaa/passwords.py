"""Password hashes: argon2id (default) and scrypt; verification in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_ARGON2 = PasswordHasher()  # argon2id with the library's current recommended parameters
SCRYPT_PREFIX = "$scrypt$"
# Each argon2id check takes 64 MiB (scrypt's default 32 MiB): bound how many run at once, so a
# flood of logins (or of unknown users, checked against a dummy hash) cannot exhaust memory.
_CHECKS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


def hash_password(password: str) -> str:
    return _ARGON2.hash(password)


def is_password_hash(value: str) -> bool:
    """True when `value` looks like a hash we can verify (never a plaintext password)."""
    if value.startswith("$argon2id$"):
        try:
            _ARGON2.check_needs_rehash(value)  # parses the parameters
        except (InvalidHashError, ValueError):
            return False
        return True
    if value.startswith(SCRYPT_PREFIX):
        return _parse_scrypt(value) is not None
    return False


_THIS_THREAD = threading.local()
_DUMMY_HASH: str | None = None


def verify_password(stored_hash: str, password: str) -> bool:
    _THIS_THREAD.checks = checks_in_this_thread() + 1
    with _CHECKS:
        return _verify(stored_hash, password)


def checks_in_this_thread() -> int:
    """How many password checks this thread has run (the AAA chain compares two readings)."""
    return getattr(_THIS_THREAD, "checks", 0)


def spend_a_check(password: str) -> None:
    """The work of one check against a hash no one has: a login that fails without any real
    check costs the same as a wrong password, so timing does not tell which names exist."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not a password of anyone")
    verify_password(_DUMMY_HASH, password)


def _verify(stored_hash: str, password: str) -> bool:
    if stored_hash.startswith("$argon2id$"):
        try:
            return _ARGON2.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    parsed = _parse_scrypt(stored_hash)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    actual = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=256 * 1024 * 1024
    )
    return hmac.compare_digest(actual, expected)


def hash_password_scrypt(password: str, *, n: int = 2**15, r: int = 8, p: int = 1) -> str:
    """`$scrypt$ln=15,r=8,p=1$SALT$HASH` (base64, unpadded), for sites that mandate scrypt."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * 1024 * 1024
    )
    return f"{SCRYPT_PREFIX}ln={n.bit_length() - 1},r={r},p={p}${_b64(salt)}${_b64(digest)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _parse_scrypt(value: str) -> tuple[int, int, int, bytes, bytes] | None:
    try:
        _, _, params, salt, digest = value.split("$")
        settings = dict(item.split("=", 1) for item in params.split(","))
        ln, r, p = int(settings["ln"]), int(settings["r"]), int(settings["p"])
        if not (1 <= ln <= 20 and r > 0 and p > 0):
            return None
        return 2**ln, r, p, _unb64(salt), _unb64(digest)
    except (ValueError, KeyError):
        return None
