"""SSH public keys of accounts: parse authorized_keys lines, allow ed25519, ecdsa, rsa >= 2048.

Keys are compared as wire-format blobs (what the SSH layer gives after checking the
signature). Lines carrying authorized_keys options (`from=`, `command=`...) are ignored:
the appliance does not implement those restrictions, so it does not pretend to.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from appliance.config.model import Section

ALLOWED_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)
MIN_RSA_BITS = 2048


class KeyError_(ValueError):
    """An authorized_keys line that cannot be used; the message says why."""


@dataclass(frozen=True)
class AuthorizedKey:
    key_type: str
    blob: bytes
    comment: str = ""


def _read_string(data: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(data):
        raise KeyError_("truncated key blob")
    (length,) = struct.unpack(">I", data[offset : offset + 4])
    end = offset + 4 + length
    if end > len(data):
        raise KeyError_("truncated key blob")
    return data[offset + 4 : end], end


def blob_type(blob: bytes) -> str:
    """The key type named inside a wire-format public key."""
    name, _ = _read_string(blob, 0)
    try:
        return name.decode("ascii")
    except UnicodeDecodeError:
        raise KeyError_("the key type is not ASCII") from None


def check_blob(blob: bytes) -> str:
    """The type of an acceptable key blob; KeyError_ for DSA, short RSA, unknown types."""
    key_type = blob_type(blob)
    if key_type not in ALLOWED_TYPES:
        raise KeyError_(f"key type {key_type} is not allowed; expected ed25519, ecdsa or rsa")
    if key_type == "ssh-rsa":
        _, offset = _read_string(blob, 0)
        _exponent, offset = _read_string(blob, offset)
        modulus, _ = _read_string(blob, offset)
        bits = int.from_bytes(modulus, "big").bit_length()
        if bits < MIN_RSA_BITS:
            raise KeyError_(f"RSA key of {bits} bits; expected at least {MIN_RSA_BITS}")
    return key_type


def parse_line(line: str) -> AuthorizedKey | None:
    """One authorized_keys line; None for blanks and comments; KeyError_ when unusable."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split(None, 2)
    if parts[0] not in ALLOWED_TYPES:
        if any(parts[0].startswith(t) for t in ("ssh-", "ecdsa-", "sk-")):
            raise KeyError_(f"key type {parts[0]} is not allowed; expected ed25519, ecdsa or rsa")
        raise KeyError_(
            "authorized_keys options are not supported; expected 'TYPE BASE64 [COMMENT]'"
        )
    if len(parts) < 2:
        raise KeyError_("no key data after the key type")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_("the key data is not valid base64") from None
    inner = check_blob(blob)
    if inner != parts[0]:
        raise KeyError_(f"the line says {parts[0]} but the key is {inner}")
    return AuthorizedKey(inner, blob, parts[2] if len(parts) > 2 else "")


def parse_lines(lines: Iterable[str]) -> tuple[list[AuthorizedKey], list[str]]:
    """Usable keys, and one problem sentence per unusable line."""
    keys: list[AuthorizedKey] = []
    problems: list[str] = []
    for number, line in enumerate(lines, 1):
        try:
            key = parse_line(line)
        except KeyError_ as error:
            problems.append(f"line {number}: {error}")
            continue
        if key is not None:
            keys.append(key)
    return keys, problems


def account_lines(section: Section) -> list[str]:
    lines = list(section.options.get("ssh_authorized_keys") or [])
    path = section.path("ssh_authorized_keys_path")
    if path is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            lines.extend(path.read_text(encoding="utf-8").splitlines())
    return lines


def account_keys(section: Section) -> list[AuthorizedKey]:
    return parse_lines(account_lines(section))[0]


def key_allowed(keys: Iterable[AuthorizedKey], offered: bytes) -> bool:
    """True when the offered blob is acceptable and equals one of `keys` (constant time each)."""
    try:
        check_blob(offered)
    except KeyError_:
        return False
    found = False
    for key in keys:
        found |= hmac.compare_digest(key.blob, offered)
    return found
