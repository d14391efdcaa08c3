"""What one authentication method answers: accept (with an account), reject, or pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from appliance.runtime.aaa.identity import Credentials

ACCEPT, REJECT, PASS = "accept", "reject", "pass"


@dataclass(frozen=True)
class AccountSpec:
    """What a method knows about an accepted account; the core turns it into an Account.

    Unset (None) values fall back to the account's groups in server.ini.
    """

    name: str
    groups: tuple[str, ...] = ()
    home_folder_path: str | None = None
    """A path or template (${USER}); relative paths are relative to server.ini's folder."""
    permissions: tuple[str, ...] | None = None
    amend_write_name: str | None = None
    source_addresses: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Decision:
    verdict: str
    reason: str
    account: AccountSpec | None = None

    @classmethod
    def accept(cls, account: AccountSpec, reason: str = "credentials accepted") -> Decision:
        return cls(ACCEPT, reason, account)

    @classmethod
    def reject(cls, reason: str) -> Decision:
        return cls(REJECT, reason)

    @classmethod
    def passed(cls, reason: str) -> Decision:
        """Not mine: let the next method of the chain answer."""
        return cls(PASS, reason)


class MethodError(Exception):
    """The method could not answer (server down, timeout); the chain moves on (event 20022)."""


class Method(Protocol):
    id: str

    def authenticate(self, credentials: Credentials) -> Decision: ...


class LookupMethod(Method, Protocol):
    """A method that can describe an account it accepted before without its credential
    (application accounts, LDAP with a service account); used by AAA.account_for."""

    def lookup(self, username: str) -> Decision: ...
