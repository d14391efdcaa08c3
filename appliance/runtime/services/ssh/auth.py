"""SSH login policy of one connection: which methods remain, and asking AAA for each factor.

`ssh_authentication` says what a login needs: `any` (a password or a key), `publickey`,
`password`, or `publickey,password` (a key first, then the password of the same account).
Keyboard-interactive is the password method for clients that only speak that. The checks
themselves (passwords, authorized keys, bans, failure counting) live in AAA.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from appliance.runtime.aaa.core import AAA
from appliance.runtime.aaa.identity import Account, AuthResult, Credentials

LOGIN_PROTOCOL = "ssh"
PUBLICKEY, PASSWORD = "publickey", "password"
POLICIES: dict[str, tuple[frozenset[str], ...]] = {
    # policy: the steps of a login, in order; each step is the methods that satisfy it
    "any": (frozenset({PUBLICKEY, PASSWORD}),),
    "publickey": (frozenset({PUBLICKEY}),),
    "password": (frozenset({PASSWORD}),),
    "publickey,password": (frozenset({PUBLICKEY}), frozenset({PASSWORD})),
}


@dataclass(frozen=True)
class Client:
    """Where a connection comes from (after PROXY protocol) and which service it reached."""

    address: str
    port: int
    service_id: str


class LoginPolicy:
    """The authentication state of one SSH connection."""

    def __init__(self, aaa: AAA, client: Client, policy: str) -> None:
        self.aaa = aaa
        self.client = client
        self.steps = POLICIES[policy]
        self.username: str | None = None
        self.passed: dict[str, AuthResult] = {}
        self.credentials: Credentials | None = None

    def begin(self, username: str) -> None:
        """A new username starts the login over (RFC 4252 allows changing it)."""
        if username != self.username:
            self.username = username
            self.passed = {}

    def offers(self, method: str) -> bool:
        """Whether `method` is what the login needs next."""
        return not self.complete and method in self.steps[len(self.passed)]

    @property
    def complete(self) -> bool:
        return len(self.passed) >= len(self.steps)

    @property
    def account(self) -> Account | None:
        if not self.complete:
            return None
        return next(iter(self.passed.values())).account

    async def password(self, username: str, password: str) -> bool:
        return await self._check(PASSWORD, self._credentials(username, password=password))

    async def public_key(self, username: str, key_blob: bytes) -> bool:
        """`key_blob` is the wire-format key whose signature the SSH layer already verified."""
        return await self._check(PUBLICKEY, self._credentials(username, public_key=key_blob))

    def _credentials(self, username: str, **secret: object) -> Credentials:
        return Credentials(
            username=username,
            protocol=LOGIN_PROTOCOL,
            service_id=self.client.service_id,
            peer_address=self.client.address,
            peer_port=self.client.port,
            **secret,
        )

    async def _check(self, method: str, credentials: Credentials) -> bool:
        if not self.offers(method):
            return False
        result = await asyncio.to_thread(self.aaa.authenticate, credentials)
        if not result.accepted or result.account is None:
            return False
        if any(earlier.account.name != result.account.name for earlier in self.passed.values()):
            return False
        self.passed[method] = result
        self.credentials = replace(credentials, password=None)
        return True
