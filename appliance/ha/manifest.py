"""The manifest of a generation: each file's path, SHA-256, size, mode and owner; and checking it.

Paths inside the config folder are stored relative to it (the nodes may keep their
configuration in different folders); paths outside it are absolute and the same on both
nodes. Modes and owners are compared on POSIX systems only.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from appliance.config.loader import FRAGMENTS

FORMAT = 1
POSIX = os.name == "posix"


class ManifestError(Exception):
    """A manifest that cannot be used (unreadable, wrong format, unsafe path)."""


@dataclass(frozen=True)
class Entry:
    path: str
    sha256: str
    size: int
    mode: str
    owner: str
    group: str


@dataclass(frozen=True)
class Mismatch:
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class Manifest:
    generation: int
    source_node: str
    created: str
    entries: tuple[Entry, ...]

    @property
    def digest(self) -> str:
        """SHA-256 over the entries: equal digests mean identical copies."""
        canonical = json.dumps([asdict(entry) for entry in self.entries], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "generation": self.generation,
            "source_node": self.source_node,
            "created": self.created,
            "digest": self.digest,
            "files": [asdict(entry) for entry in self.entries],
        }
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            document = json.loads(data)
            if document.get("format") != FORMAT:
                raise ManifestError(f"manifest format {document.get('format')!r}, expected 1")
            manifest = cls(
                generation=int(document["generation"]),
                source_node=str(document["source_node"]),
                created=str(document["created"]),
                entries=tuple(Entry(**entry) for entry in document["files"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ManifestError(f"manifest cannot be read: {error}") from None
        if document.get("digest") != manifest.digest:
            raise ManifestError("manifest digest does not match its entries")
        for entry in manifest.entries:
            check_safe_path(entry.path)
        return manifest

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            return cls.from_json(path.read_bytes())
        except OSError as error:
            raise ManifestError(f"{path}: {error.strerror}") from None


def check_safe_path(text: str) -> None:
    """Refuse manifest paths that climb out of the config folder or are not normalized."""
    path = PurePosixPath(text)
    if ".." in path.parts or str(path) != text or not text or "\x00" in text:
        raise ManifestError(f"unsafe path in manifest: {text!r}")


def manifest_path(root: Path, path: Path) -> str:
    """How a file is named in a manifest: relative to the config folder when inside it."""
    try:
        return path.absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        return path.absolute().as_posix()


def live_path(root: Path, text: str) -> Path:
    """Where a manifest path lives on this node."""
    path = Path(text)
    return path if path.is_absolute() else root / path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _owner(path: Path) -> tuple[str, str]:
    if not POSIX:
        return "", ""
    try:
        return path.owner(), path.group()
    except KeyError:  # an id without a name
        stat = path.stat()
        return str(stat.st_uid), str(stat.st_gid)


def describe(root: Path, path: Path) -> Entry:
    stat = path.stat()
    owner, group = _owner(path)
    return Entry(
        path=manifest_path(root, path),
        sha256=sha256_file(path),
        size=stat.st_size,
        mode=f"{stat.st_mode & 0o7777:04o}",
        owner=owner,
        group=group,
    )


def build_manifest(
    root: Path, files: list[Path], *, generation: int, source_node: str, created: str
) -> Manifest:
    entries = tuple(sorted((describe(root, path) for path in files), key=lambda e: e.path))
    return Manifest(generation, source_node, created, entries)


def verify(manifest: Manifest, root: Path) -> list[Mismatch]:
    """What differs between the live files on this node and the manifest; empty: identical."""
    mismatches: list[Mismatch] = []
    for entry in manifest.entries:
        path = live_path(root, entry.path)
        if not path.is_file():
            mismatches.append(Mismatch(entry.path, "missing"))
            continue
        actual = describe(root, path)
        if actual.sha256 != entry.sha256:
            mismatches.append(
                Mismatch(
                    entry.path,
                    f"SHA-256 is {actual.sha256[:16]}..., manifest says {entry.sha256[:16]}...",
                )
            )
        if POSIX and actual.mode != entry.mode:
            mismatches.append(Mismatch(entry.path, f"mode is {actual.mode}, expected {entry.mode}"))
        if POSIX and entry.owner and (actual.owner, actual.group) != (entry.owner, entry.group):
            mismatches.append(
                Mismatch(
                    entry.path,
                    f"owner is {actual.owner}:{actual.group}, expected {entry.owner}:{entry.group}",
                )
            )
    listed = {entry.path for entry in manifest.entries}
    fragments = root / FRAGMENTS
    if fragments.is_dir():
        for fragment in sorted(fragments.glob("*.ini")):
            name = manifest_path(root, fragment)
            if name not in listed:
                problem = "fragment not in the manifest (it would be merged)"
                mismatches.append(Mismatch(name, problem))
    return mismatches
