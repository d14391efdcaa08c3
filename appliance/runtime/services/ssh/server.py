"""The asyncssh server object of one connection: events, login through AAA, what is refused.

asyncssh creates one per connection (`server_factory`). It translates SSH into calls on the
shared core: LoginPolicy for authentication, SSHSession for channels, the event bus for the
audit trail. Port forwarding of every kind is refused here, with event 30003.
"""

from __future__ import annotations

import time

import asyncssh

from appliance.runtime.context import RuntimeContext
from appliance.runtime.events.event import format_peer
from appliance.runtime.fs.vfs import VirtualFS
from appliance.runtime.services.ssh.auth import LoginPolicy
from appliance.runtime.services.ssh.session import SSHSession
from appliance.runtime.services.ssh.settings import SSHSettings


class ApplianceSSHServer(asyncssh.SSHServer):
    def __init__(self, settings: SSHSettings, context: RuntimeContext) -> None:
        self.settings = settings
        self.context = context
        self.conn: asyncssh.SSHServerConnection | None = None
        self.login: LoginPolicy | None = None
        self.peer = "-"
        self._started = time.monotonic()

    # -- events ----------------------------------------------------------------
    def emit(self, event_id: int, **data: object) -> None:
        account = self.login.account if self.login else None
        self.context.bus.emit(
            event_id,
            self.settings.component,
            account=account.name if account else None,
            peer=self.peer,
            **data,
        )

    def refuse(self, request: str, reason: str, **data: object) -> None:
        """Record a refused request (shell, exec, forwarding...) as event 30003."""
        self.emit(30003, request=request, reason=reason, **data)

    def idle_timeout(self, seconds: float) -> None:
        self.emit(30005, timeout=seconds)

    # -- connection ------------------------------------------------------------
    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        client = conn.client
        self.peer = format_peer(client.address, client.port)
        self.login = LoginPolicy(self.context.aaa, client, self.settings.authentication)
        self.emit(30001, service=self.settings.service_id)

    def connection_lost(self, exc: Exception | None) -> None:
        duration = round(time.monotonic() - self._started, 3)
        account = self.login.account if self.login else None
        if account is not None and self.login.credentials is not None:
            self.context.aaa.logout(account, self.login.credentials, duration)
        self.emit(
            30002,
            service=self.settings.service_id,
            duration=duration,
            reason=str(exc) if exc else "closed",
        )

    # -- authentication ------------------------------------------------------------
    def begin_auth(self, username: str) -> bool:
        if self.settings.banner:
            self.conn.send_auth_banner(self.settings.banner.rstrip("\n") + "\n")
        self.login.begin(username)
        return True

    def login_complete(self) -> bool:
        return self.login is not None and self.login.complete

    def password_auth_supported(self) -> bool:
        return self.login.offers("password")

    async def validate_password(self, username: str, password: str) -> bool:
        return await self.login.password(username, password)

    def public_key_auth_supported(self) -> bool:
        return self.login.offers("publickey")

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """Any key may be offered; AAA decides once the client signed with it."""
        return self.login.offers("publickey")

    async def authenticate_public_key(self, username: str, key_blob: bytes) -> bool:
        return await self.login.public_key(username, key_blob)

    def filesystem(self, protocol: str) -> VirtualFS:
        """The logged-in account's files, as one session (sftp or scp) sees them."""
        return VirtualFS(
            self.login.account,
            self.context.bus,
            protocol=protocol,
            peer=self.peer,
            component=self.settings.component,
            temporary_grace=self.context.upload_temporary_grace,
        )

    # -- channels ------------------------------------------------------------------
    def session_requested(self) -> SSHSession:
        return SSHSession(self)

    def connection_requested(self, dest_host: str, dest_port: int, *_: object) -> bool:
        self.refuse(
            "port forwarding", "port forwarding is not offered", target=f"{dest_host}:{dest_port}"
        )
        return False

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        self.refuse(
            "remote port forwarding",
            "port forwarding is not offered",
            target=f"{listen_host}:{listen_port}",
        )
        return False

    def unix_connection_requested(self, dest_path: str) -> bool:
        self.refuse("socket forwarding", "socket forwarding is not offered", target=dest_path)
        return False

    def unix_server_requested(self, listen_path: str) -> bool:
        self.refuse("socket forwarding", "socket forwarding is not offered", target=listen_path)
        return False
