"""Who is logging in and who logged in: credentials, the accepted account, the result."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appliance.runtime.aaa.permissions import Permissions

PROTOCOLS = ("ftp", "ftps", "sftp", "scp", "http", "https")


def normalized_username(name: str) -> str:
    """The one form of an account name offered by a client, whatever the protocol: NFKC, the
    normalisation SSH applies before the appliance sees the name (SASLprep, RFC 4013), so a
    fullwidth "ｄｅｍｏ" is "demo" over FTP and HTTP exactly as it is over SSH."""
    return unicodedata.normalize("NFKC", name)


@dataclass(frozen=True)
class Credentials:
    """What a protocol service received from a client, protocol-neutral."""

    username: str
    protocol: str
    service_id: str
    peer_address: str
    peer_port: int | None = None
    password: str | None = field(default=None, repr=False)
    public_key: bytes | None = None
    """An OpenSSH public key in wire format (the key blob), already proven by a signature."""
    certificate: bytes | None = None
    """DER of a TLS client certificate the TLS layer verified against the configured CA."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "username", normalized_username(self.username))

    @property
    def kind(self) -> str:
        """ "password", "publickey" or "certificate"."""
        if self.public_key is not None:
            return "publickey"
        if self.certificate is not None:
            return "certificate"
        return "password"

    @property
    def component(self) -> str:
        return f"services/{self.service_id}"


@dataclass(frozen=True)
class Account:
    """An authenticated account: where it lives, what it may do, which method accepted it."""

    name: str
    home_folder: Path
    groups: tuple[str, ...]
    permissions: Permissions
    amend_write_name: str | None
    method: str


@dataclass(frozen=True)
class AuthResult:
    accepted: bool
    account: Account | None
    method: str | None
    reason: str
    """A human reason for the log; never contains the password."""
