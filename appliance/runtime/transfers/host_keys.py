"""Pinned SSH host keys: a known_hosts-style line or a SHA256 fingerprint, nothing else."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import asyncssh

FINGERPRINT_PREFIX = "SHA256:"


class HostKeyError(ValueError):
    pass


@dataclass(frozen=True)
class PinnedHostKey:
    """What `host_key` pins: the key itself (`key`) or only its SHA-256 fingerprint."""

    fingerprint: str
    key: asyncssh.SSHKey | None = None

    @classmethod
    def parse(cls, text: str) -> PinnedHostKey:
        text = text.strip()
        if text.startswith(FINGERPRINT_PREFIX):
            digest = text[len(FINGERPRINT_PREFIX) :]
            try:
                raw = base64.b64decode(digest + "=" * (-len(digest) % 4), validate=True)
            except binascii.Error:
                raw = b""
            if len(raw) != 32:
                raise HostKeyError(
                    f"{text!r} is not a SHA256 fingerprint; expected SHA256: and 43 base64 "
                    "characters, as `ssh-keygen -lf` prints"
                )
            return cls(text)
        words = text.split()
        error: Exception | None = None
        for start in (0, 1):  # a known_hosts line may start with the host names
            try:
                key = asyncssh.import_public_key(" ".join(words[start : start + 2]))
            except (asyncssh.KeyImportError, ValueError) as problem:
                error = error or problem
                continue
            return cls(key.get_fingerprint("sha256"), key)
        raise HostKeyError(
            f"{text[:40]!r} is not a host key ({error}); expected a known_hosts-style "
            "line like 'ssh-ed25519 AAAA...' or a fingerprint 'SHA256:...'"
        )

    def matches(self, key: asyncssh.SSHKey) -> bool:
        return key.get_fingerprint("sha256") == self.fingerprint

    @property
    def algorithms(self) -> list[bytes] | None:
        """Host key algorithms to offer: the pinned key's own, so the server presents it."""
        return list(self.key.sig_algorithms) if self.key is not None else None
