"""The SSH service: one listener serving SFTP and SCP for a [services/<id>] section of type ssh."""

from __future__ import annotations

import asyncio
import socket

import asyncssh

from appliance.config import Section
from appliance.runtime.context import RuntimeContext
from appliance.runtime.events.event import format_peer
from appliance.runtime.services.ssh import algorithms
from appliance.runtime.services.ssh.auth import Client
from appliance.runtime.services.ssh.connection import ApplianceConnection
from appliance.runtime.services.ssh.gate import admit, socket_peer
from appliance.runtime.services.ssh.host_keys import load_host_keys
from appliance.runtime.services.ssh.listener import Listener
from appliance.runtime.services.ssh.server import ApplianceSSHServer
from appliance.runtime.services.ssh.settings import SSHSettings, settings_from

LOGIN_TIMEOUT = 120


def connection_options(
    settings: SSHSettings, context: RuntimeContext, host_keys: list[asyncssh.SSHKeyPair]
) -> asyncssh.SSHServerConnectionOptions:
    """asyncssh's options for every connection of the service."""
    return asyncssh.SSHServerConnectionOptions(
        server_factory=lambda: ApplianceSSHServer(settings, context),
        server_host_keys=algorithms.host_key_pairs(host_keys),
        encoding=None,
        allow_pty=False,
        x11_forwarding=False,
        agent_forwarding=False,
        login_timeout=min(LOGIN_TIMEOUT, settings.idle_connection_timeout),
        **algorithms.connection_options(),
    )


class SSHService:
    def __init__(self, section: Section, context: RuntimeContext) -> None:
        self.section = section
        self.context = context
        self.settings = settings_from(section, context.config)
        self._options: asyncssh.SSHServerConnectionOptions | None = None
        self._listener: Listener | None = None
        self._connections: set[ApplianceConnection] = set()
        self._active = 0

    @property
    def listening(self) -> tuple[str, int]:
        return self._listener.listening

    async def start(self) -> None:
        allowed = algorithms.connection_options()["signature_algs"]
        keys = load_host_keys(list(self.settings.host_key_paths), allowed)
        self._options = connection_options(self.settings, self.context, keys)
        self._listener = Listener(self.settings.address, self.settings.port, self._accept)
        await self._listener.start()

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
        for conn in list(self._connections):
            conn.disconnect(asyncssh.DISC_BY_APPLICATION, "The service is stopping")
        await asyncio.sleep(0)

    # -- one connection -------------------------------------------------------------
    async def _accept(self, sock: socket.socket) -> None:
        if self._active >= self.settings.maximum_concurrent_connections:
            self._refuse_over_limit(sock)
            return
        self._active += 1
        handed_over = False
        try:
            client = await admit(sock, self.settings, self.context.bus, self.context.aaa)
            if client is not None:
                handed_over = await self._hand_over(sock, client)
        finally:
            if not handed_over:
                self._release(sock)

    def _refuse_over_limit(self, sock: socket.socket) -> None:
        address, port = socket_peer(sock)
        self.context.bus.emit(
            20026,
            self.settings.component,
            peer=format_peer(address, port),
            service=self.settings.service_id,
            limit=self.settings.maximum_concurrent_connections,
        )
        sock.close()

    def _release(self, sock: socket.socket) -> None:
        self._active -= 1
        sock.close()

    async def _hand_over(self, sock: socket.socket, client: Client) -> bool:
        """From here on asyncssh speaks SSH on the socket; False if that could not start."""
        loop = asyncio.get_running_loop()
        conn = ApplianceConnection(
            loop,
            self._options,
            client=client,
            idle_timeout=self.settings.idle_connection_timeout,
            on_closed=lambda: self._closed(conn),
        )
        self._connections.add(conn)
        try:
            await loop.connect_accepted_socket(lambda: conn, sock)
        except OSError:
            self._connections.discard(conn)
            return False
        return True

    def _closed(self, conn: ApplianceConnection) -> None:
        if conn in self._connections:
            self._connections.discard(conn)
            self._active -= 1
