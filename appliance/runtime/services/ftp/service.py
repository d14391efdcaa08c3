"""The FTP service: one listener and its sessions, served by pyftpdlib in a thread of its own."""

from __future__ import annotations

import asyncio

from appliance.config import Section
from appliance.runtime.context import RuntimeContext
from appliance.runtime.services.ftp.handler import session_class
from appliance.runtime.services.ftp.loop import LoopThread
from appliance.runtime.services.ftp.server import SessionServer, listening_socket
from appliance.runtime.services.ftp.settings import FTPSettings, settings_from


class FTPService:
    """Types `ftp` (plain, explicit FTPS with AUTH TLS) and `ftps-implicit`.

    Each service has its own loop thread, so stopping one (a reload that changed its
    options) closes its listener and its sessions only.
    """

    def __init__(self, section: Section, context: RuntimeContext) -> None:
        self.section = section
        self.context = context
        self.settings: FTPSettings = settings_from(section, context.config)
        self._loop: LoopThread | None = None
        self._server: SessionServer | None = None
        self._address: tuple[str, int] = (self.settings.address, self.settings.port)

    async def start(self) -> None:
        settings = self.settings
        loop = LoopThread(f"ftp-{settings.service_id}")
        handler = session_class(settings, self.context, loop)
        sock = listening_socket(settings.address, settings.port)
        self._address = sock.getsockname()[:2]
        self._server = SessionServer(sock, handler, loop.ioloop, settings)
        self._loop = loop
        loop.start()

    async def stop(self) -> None:
        if self._loop is not None:
            await asyncio.to_thread(self._loop.stop)
            self._loop = None
            self._server = None

    @property
    def listening(self) -> tuple[str, int]:
        return self._address
