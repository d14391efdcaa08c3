"""One SSH session channel: SFTP subsystem, an scp command, or a clean refusal of the rest.

A refused shell or command still gets a sentence on stderr and exit status 1 (as OpenSSH's
`ForceCommand internal-sftp` does), plus event 30003. Every session that ends sends an
exit status: OpenSSH 9's scp reports failure after a good copy when it gets none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncssh
from asyncssh.constants import EXTENDED_DATA_STDERR
from asyncssh.sftp import SFTPServerHandler
from asyncssh.stream import SSHServerStreamSession

from appliance.runtime.services.ssh.scp import run_scp
from appliance.runtime.services.ssh.scp_command import (
    ScpCommand,
    ScpCommandError,
    parse_scp_command,
)
from appliance.runtime.services.ssh.sftp import ApplianceSFTPServer

if TYPE_CHECKING:
    from appliance.runtime.services.ssh.server import ApplianceSSHServer

SFTP_VERSION = 3
ONLY_TRANSFERS = "This service offers SFTP and SCP file transfers only.\n"


class _SFTPHandler(SFTPServerHandler):
    """asyncssh's SFTP request loop; files still open when it ends were never closed by the
    client, so their uploads are aborted rather than committed."""

    async def _cleanup(self, exc: Exception | None) -> None:
        if self._server is not None:
            self._server.interrupted = True
        await super()._cleanup(exc)


class SSHSession(SSHServerStreamSession):
    def __init__(self, server: ApplianceSSHServer) -> None:
        super().__init__(None)
        self.server = server
        self.settings = server.settings
        self._scp: ScpCommand | None = None
        self._refusal: str | None = None

    # -- requests --------------------------------------------------------------------
    def pty_requested(self, *_: object) -> bool:
        return False

    def shell_requested(self) -> bool:
        self.server.refuse("shell", "this service offers SFTP and SCP only")
        self._refusal = ONLY_TRANSFERS
        return True

    def exec_requested(self, command: str) -> bool:
        if self.settings.scp:
            try:
                self._scp = parse_scp_command(command)
                return True
            except ScpCommandError:
                pass
        reason = (
            "scp is disabled on this service"
            if command.startswith("scp ")
            else ("this service runs no commands")
        )
        self.server.refuse("exec", reason, command=command[:200])
        self._refusal = ONLY_TRANSFERS
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        if subsystem == "sftp" and self.settings.sftp:
            return True
        self.server.refuse(
            "subsystem", f"subsystem {subsystem} is not offered", subsystem=subsystem
        )
        return False

    # -- running ---------------------------------------------------------------------
    def session_started(self) -> None:
        stdin = asyncssh.SSHReader(self, self._chan)
        stdout = asyncssh.SSHWriter(self, self._chan)
        stderr = asyncssh.SSHWriter(self, self._chan, EXTENDED_DATA_STDERR)
        self._conn.create_task(self._run(stdin, stdout, stderr), stdin.logger)

    async def _run(self, stdin, stdout, stderr) -> None:
        status = 1
        try:
            if self._refusal is not None:
                stderr.write(self._refusal.encode())
            elif self._scp is not None:
                status = await self._run_scp(stdin, stdout)
            else:
                status = await self._run_sftp(stdin, stdout)
        finally:
            self._chan.exit(status)

    async def _run_sftp(self, stdin, stdout) -> int:
        self.server.emit(30004, kind="sftp", command="")
        sftp = ApplianceSFTPServer(self._chan, self.server.filesystem("sftp"))
        await _SFTPHandler(sftp, stdin, stdout, SFTP_VERSION).run()
        return 0

    async def _run_scp(self, stdin, stdout) -> int:
        command = self._chan.get_command() or ""
        self.server.emit(30004, kind="scp", command=command[:200])
        return await run_scp(self.server.filesystem("scp"), self._scp, stdin, stdout)
