"""One SSH connection: asyncssh's server connection with the appliance's few overrides.

- Public keys: asyncssh asks "is this key acceptable?" before the client proved it holds the
  private key. Here every key may be offered; AAA is asked only once the signature checks
  out, so an authentication event always means a proven key.
- Several factors (`publickey,password`): a method that succeeds while another is still
  needed answers "partial success" (RFC 4252 section 5.1) instead of logging the client in.
- Agent and X11 forwarding are refused here (with an event), where asyncssh handles them.
- Idle timeout: no bytes from the client for `idle_connection_timeout` seconds closes it.
- paramiko asks for the ssh-userauth service again before each method it tries; OpenSSH's
  sshd accepts that and so does this connection (asyncssh alone would disconnect).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncssh
from asyncssh.constants import MSG_SERVICE_REQUEST

from appliance.runtime.services.ssh.auth import Client

USERAUTH_SERVICE = b"ssh-userauth"


class ApplianceConnection(asyncssh.SSHServerConnection):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        options: asyncssh.SSHServerConnectionOptions,
        *,
        client: Client,
        idle_timeout: float,
        on_closed: Callable[[], None],
    ) -> None:
        super().__init__(loop, options)
        self.client = client
        self._idle_timeout = idle_timeout
        self._on_closed = on_closed
        self._last_activity = loop.time()
        self._idle_timer: asyncio.TimerHandle | None = None

    # -- life cycle ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._schedule_idle_check(self._idle_timeout)

    def connection_lost(self, exc: Exception | None = None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        try:
            super().connection_lost(exc)
        finally:
            self._on_closed()

    def data_received(self, data: bytes, datatype: object = None) -> None:
        self._last_activity = self._loop.time()
        super().data_received(data, datatype)

    def _schedule_idle_check(self, delay: float) -> None:
        self._idle_timer = self._loop.call_later(delay, self._check_idle)

    def _check_idle(self) -> None:
        idle = self._loop.time() - self._last_activity
        if idle < self._idle_timeout:
            self._schedule_idle_check(self._idle_timeout - idle)
            return
        self._owner_call("idle_timeout", self._idle_timeout)
        self.disconnect(asyncssh.DISC_BY_APPLICATION, "Idle timeout")

    def _owner_call(self, name: str, *args: object) -> object:
        owner = self._owner
        return getattr(owner, name)(*args) if owner is not None else None

    # -- authentication -----------------------------------------------------------
    async def validate_public_key(
        self, username: str, key_data: bytes, msg: bytes, signature: bytes
    ) -> bool:
        if not await super().validate_public_key(username, key_data, msg, signature):
            return False
        if not msg:  # a query: the client asks whether it may sign with this key
            return True
        return bool(await self._owner.authenticate_public_key(username, key_data))

    async def send_userauth_success(self) -> None:
        if self._owner is not None and not self._owner.login_complete():
            self.send_userauth_failure(True)
            return
        await super().send_userauth_success()

    # -- requests the appliance never grants ------------------------------------------
    async def create_agent_listener(self) -> bool:
        self._owner_call("refuse", "agent forwarding", "agent forwarding is not offered")
        return False

    async def attach_x11_listener(
        self, chan: object, auth_proto: bytes, auth_data: bytes, screen: int
    ) -> str | None:
        self._owner_call("refuse", "X11 forwarding", "X11 forwarding is not offered")
        return None

    # -- paramiko compatibility ---------------------------------------------------------
    def _process_repeated_service_request(self, pkttype: int, pktid: int, packet: object) -> None:
        if self._auth_in_progress and not self._auth_complete:
            self._next_service = USERAUTH_SERVICE
        asyncssh.SSHServerConnection._process_service_request(self, pkttype, pktid, packet)

    _packet_handlers = {
        **asyncssh.SSHServerConnection._packet_handlers,
        MSG_SERVICE_REQUEST: _process_repeated_service_request,
    }
