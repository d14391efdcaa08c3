"""Password hashes: argon2id (default) and scrypt; verification in constant time.

A password that verified against a hash is remembered for a short time (`[server]
password_cache_seconds`), so clients that send it with every request (HTTP Basic) do not
pay a 64 MiB argon2id check each time. What is remembered is an HMAC, under a key made at
start and never stored, of the stored hash and the password: a changed hash (a new password
in server.ini) misses at once, and only a password that verified can ever hit. Bans and
disabled accounts are checked before any password is, so they take effect at once too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict

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


class RecentlyVerified:
    """Passwords that verified against a hash lately: HMACs with an expiry, oldest dropped."""

    def __init__(self, capacity: int = 4096) -> None:
        self._key = os.urandom(32)
        self._capacity = capacity
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, stored_hash: str, password: str) -> bytes:
        message = stored_hash.encode() + b"\0" + password.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def contains(self, stored_hash: str, password: str) -> bool:
        digest = self._digest(stored_hash, password)
        with self._lock:
            expiry = self._expiry.get(digest)
            if expiry is None:
                return False
            if expiry <= time.monotonic():
                del self._expiry[digest]
                return False
            return True

    def add(self, stored_hash: str, password: str, seconds: float) -> None:
        digest = self._digest(stored_hash, password)
        with self._lock:
            self._expiry[digest] = time.monotonic() + seconds
            self._expiry.move_to_end(digest)
            while len(self._expiry) > self._capacity:
                self._expiry.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()


RECENTLY_VERIFIED = RecentlyVerified()


def verify_password(stored_hash: str, password: str, *, remember_seconds: float = 0) -> bool:
    """True when `password` matches `stored_hash`; with `remember_seconds`, a password that
    verified within that time is accepted from memory (see the module's docstring)."""
    if remember_seconds > 0 and RECENTLY_VERIFIED.contains(stored_hash, password):
        return True
    _THIS_THREAD.checks = checks_in_this_thread() + 1
    with _CHECKS:
        verified = _verify(stored_hash, password)
    if verified and remember_seconds > 0:
        RECENTLY_VERIFIED.add(stored_hash, password, remember_seconds)
    return verified


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
