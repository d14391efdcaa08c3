"""A generator of hostile client paths: traversal in every encoding, absolute paths, links, NUL,
backslashes, Unicode look-alikes and normalization forms, very long names.

Paths are bytes as they go on the wire. Text escapes such as `%2e%2e` are kept literally:
they are a traversal to an HTTP server that decodes twice and a plain (harmless) name to
FTP and SFTP. `hostile_paths(targets, count, seed)` gives the fixed catalogue first, then
random combinations of its parts, deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

DOTS: tuple[bytes, ...] = (
    b"..",
    b".%2e",
    b"%2e.",
    b"%2e%2e",
    b"%2E%2E",
    b"%252e%252e",
    b"%%32%65%%32%65",
    b"\xc0\xae\xc0\xae",  # overlong UTF-8 (2 bytes)
    b"\xe0\x80\xae\xe0\x80\xae",  # overlong UTF-8 (3 bytes)
    b"\xf0\x80\x80\xae\xf0\x80\x80\xae",  # overlong UTF-8 (4 bytes)
    "\uff0e\uff0e".encode(),  # fullwidth full stops
    "\u2025".encode(),  # two dot leader
    "\u2024\u2024".encode(),  # one dot leaders
    "\ufe52\ufe52".encode(),  # small full stops
    "\u3002\u3002".encode(),  # ideographic full stops
    ".\u0307".encode(),  # dot with a combining mark
    b"...",
    b"....",
    b". .",
    b".. ",
    b"..\x00",
    b"..;",
    b"..%00",
    b"..%c0%af",
)
SEPARATORS: tuple[bytes, ...] = (
    b"/",
    b"//",
    b"/./",
    b"\\",
    b"\\\\",
    b"%2f",
    b"%2F",
    b"%5c",
    b"%252f",
    b"\xc0\xaf",  # overlong "/"
    b"\xe0\x80\xaf",
    b"\xc1\x9c",  # overlong "\"
    "\uff0f".encode(),  # fullwidth solidus
    "\u2215".encode(),  # division slash
    "\u2044".encode(),  # fraction slash
    "\uff3c".encode(),  # fullwidth reverse solidus
    b"\x00",
    b"/\x00/",
)
PREFIXES: tuple[bytes, ...] = (b"", b"/", b"./", b"sub/", b"sub/../", b"//", b"\\", b"~/", b"~bob/")
ABSOLUTE: tuple[bytes, ...] = (
    b"/etc/passwd",
    b"//etc/passwd",
    b"/../../../../../../etc/passwd",
    b"file:///etc/passwd",
    b"/proc/self/environ",
    b"/proc/self/cwd/server.ini",
    b"/proc/self/root/etc/passwd",
    b"/dev/zero",
    b"C:\\Windows\\win.ini",
    b"C:/Windows/win.ini",
    b"\\\\?\\C:\\Windows\\win.ini",
    b"\\\\127.0.0.1\\c$\\",
    b"~root/.ssh/authorized_keys",
    b"$HOME/../bob",
    b"${USER}/../bob",
)
LINK_PATHS: tuple[bytes, ...] = (
    b"link-out",
    b"link-out/",
    b"link-out/secret.txt",
    b"link-file",
    b"link-up/bob/secret.txt",
    b"sub/link-root/etc/passwd",
    b"sub/link-root",
    b"/link-file",
    b"./link-out/../link-out/secret.txt",
)
LONG: tuple[bytes, ...] = (
    b"a" * 256,
    b"a" * 255,
    "\u00e9".encode() * 128,  # 256 bytes in 128 characters
    b"x/" * 2100,
    b"../" * 1500,
    b"../" * 40 + b"etc/passwd",
    b"a/" * 100 + b"../" * 120 + b"etc/passwd",
    b"." * 300,
    b"%2e%2e/" * 700,
)
ODD: tuple[bytes, ...] = (
    b"",
    b".",
    b"..",
    b"/",
    b"\x00",
    b"ok.txt\x00../../secret.txt",
    b"\r\nDELE secret.txt",
    b"\nsecret",
    b"\x7f",
    b"\xff\xfe",
    b"\xed\xa0\x80",  # an encoded surrogate
    b"-rf",
    b"*",
    b"?",
    b"[a-z]*",
    b"'; rm -rf / #",
    b"$(touch /tmp/pwned)",
    b"`id`",
    b".~upload-0.part",
    b".~partial-x",
    "e\u0301".encode(),  # NFD of an accented name
    "\u212b".encode(),  # angstrom sign, NFC becomes U+00C5
    "\u0130".encode(),  # dotted capital I
    "\u202e".encode() + b"txt.exe",  # right-to-left override
    "\ufeff..".encode(),  # BOM before dots
    "\u200b..".encode(),  # zero-width space before dots
)


def traversals(target: bytes, depth: int, dots: bytes, separator: bytes) -> bytes:
    return (dots + separator) * depth + target.replace(b"/", separator)


def catalogue(targets: Sequence[bytes]) -> list[bytes]:
    """Every fixed case: each dot form and separator towards each target, plus the rest."""
    cases: list[bytes] = []
    for target in targets:
        if target.startswith(b"/"):
            cases += [target, b"/" + target, b"." + target, b"sub/.." + target]
            continue
        for dots in DOTS:
            cases.append(traversals(target, 3, dots, b"/"))
        for separator in SEPARATORS:
            cases.append(traversals(target, 3, b"..", separator))
        for depth in range(1, 7):
            cases.append(traversals(target, depth, b"..", b"/"))
    return cases + list(ABSOLUTE + LINK_PATHS + LONG + ODD)


def random_case(rng: random.Random, targets: Sequence[bytes]) -> bytes:
    target = rng.choice(targets)
    if target.startswith(b"/") and rng.random() < 0.5:
        return rng.choice(PREFIXES) + target
    relative = target.lstrip(b"/")
    parts = [rng.choice(PREFIXES)]
    for _ in range(rng.randint(1, 8)):
        roll = rng.random()
        parts.append(b".." if roll < 0.6 else rng.choice(DOTS) if roll < 0.85 else b"sub")
        parts.append(rng.choice(SEPARATORS) if rng.random() < 0.25 else b"/")
    tail = rng.choice((relative, rng.choice(LINK_PATHS), rng.choice(ODD), rng.choice(ABSOLUTE)))
    return b"".join(parts) + tail


def hostile_paths(targets: Sequence[bytes], count: int, seed: int = 11) -> Iterator[bytes]:
    """`count` hostile paths: the catalogue first, then seeded random combinations."""
    rng = random.Random(seed)
    fixed = catalogue(targets)
    for index in range(count):
        yield fixed[index] if index < len(fixed) else random_case(rng, targets)
