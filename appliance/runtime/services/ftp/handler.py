"""One FTP session (the control connection): TLS policy, login through AAA, events.

A class is made per service (`session_class`) so that each service's settings, TLS context
and loop live on its own handler class, never on pyftpdlib's shared defaults.
"""

from __future__ import annotations

import logging
import sys
import time
from concurrent.futures import Future
from functools import partial

from OpenSSL import SSL
from pyftpdlib.handlers.ftp.control import FTPHandler
from pyftpdlib.handlers.ftps.control import TLS_FTPHandler

from appliance.runtime.aaa.identity import AuthResult, Credentials
from appliance.runtime.context import RuntimeContext
from appliance.runtime.events.event import format_peer
from appliance.runtime.fs import VirtualFS
from appliance.runtime.services.ftp import authorizer, tls
from appliance.runtime.services.ftp.command_lines import BoundedCommandLines
from appliance.runtime.services.ftp.commands import TransferCommands
from appliance.runtime.services.ftp.data import DataChannel
from appliance.runtime.services.ftp.filesystem import VirtualFSAdapter
from appliance.runtime.services.ftp.loop import LoopThread
from appliance.runtime.services.ftp.passive import NoPassivePort, PassiveListener
from appliance.runtime.services.ftp.settings import FTPSettings

log = logging.getLogger(__name__)

LOGIN_COMMANDS = ("USER", "PASS")
DATA_COMMANDS = ("PASV", "EPSV", "PORT", "EPRT")
FACTS = ["type", "perm", "size", "modify"]


class FTPSession(BoundedCommandLines, TransferCommands, TLS_FTPHandler):
    """pyftpdlib's TLS_FTPHandler with AAA logins, VirtualFS files and the appliance's events."""

    settings: FTPSettings
    context: RuntimeContext
    loop: LoopThread
    dtp_handler = DataChannel
    passive_dtp = PassiveListener
    abstracted_fs = VirtualFSAdapter
    authorizer = authorizer.DelegatingAuthorizer()
    passive_address: str | None = None

    def __init__(self, conn, server, ioloop=None) -> None:
        self.vfs: VirtualFS | None = None
        self.account = None
        self.login_credentials: Credentials | None = None
        self.opened = time.monotonic()
        self._logged_in_at = 0.0
        self._close_reported = False
        super().__init__(conn, server, ioloop)
        proxied = getattr(server, "proxied", {}).get(self._fileno)
        if proxied is not None:  # the client a trusted balancer named (PROXY protocol)
            self.remote_ip, self.remote_port = proxied
        self._current_facts = list(FACTS)
        self._available_facts = list(FACTS)
        if self.ssl_context is None:
            self._extra_feats = []

    @classmethod
    def get_ssl_context(cls) -> SSL.Context | None:
        return cls.ssl_context

    # -- who is there -------------------------------------------------------
    @property
    def peer_address(self) -> str:
        address = str(self.remote_ip)
        return address[7:] if address.startswith("::ffff:") else address

    @property
    def peer_port(self) -> int | None:
        return int(self.remote_port) if self.remote_port else None

    @property
    def peer(self) -> str:
        return format_peer(self.peer_address, self.peer_port)

    @property
    def control_secured(self) -> bool:
        return bool(self._ssl_established)

    def emit(self, event_id: int, **data: object) -> None:
        self.context.bus.emit(
            event_id,
            self.settings.component,
            account=self.account.name if self.account else None,
            peer=self.peer,
            **data,
        )

    # -- connection ---------------------------------------------------------
    def handle(self) -> None:
        """After accept: the banner, or first the TLS handshake for implicit FTPS."""
        self.emit(10033, service=self.settings.service_id)
        if self.settings.implicit_tls:
            self.secure_connection(self.ssl_context)
        else:
            super().handle()

    def handle_ssl_established(self) -> None:
        self.tls_negotiated("control", self.socket)
        if self.settings.implicit_tls:
            FTPHandler.handle(self)

    def handle_failed_ssl_handshake(self) -> None:
        self.tls_failed("control")
        self.close()

    def tls_negotiated(self, channel: str, connection: SSL.Connection) -> None:
        self.emit(10035, channel=channel, **tls.negotiated(connection))

    def tls_failed(self, channel: str) -> None:
        self.emit(10037, channel=channel)

    def add_channel(self, map=None, events=None) -> None:  # noqa: A002 (pyftpdlib's name)
        """pyftpdlib re-adds the session after a delayed reply (a failed login waits before
        its 530); a session closed meanwhile (idle timeout) has no socket left to add."""
        if getattr(self, "_closed", False):
            return
        try:
            super().add_channel(map, events)
        except OSError:
            self.close()

    def handle_error(self) -> None:
        """A TLS error after the handshake (an alert, a record out of place) ends the session
        with event 10037, like a failed handshake, not with pyftpdlib's logged traceback."""
        if isinstance(sys.exc_info()[1], SSL.Error):
            self.tls_failed("control")
            self.close()
            return
        super().handle_error()

    def close(self) -> None:
        if not self._closed and not self._close_reported and self.remote_ip:
            self._close_reported = True
            self._report_close()
        super().close()

    def _report_close(self) -> None:
        now = time.monotonic()
        if self.account is not None and self.login_credentials is not None:
            self.context.aaa.logout(self.account, self.login_credentials, now - self._logged_in_at)
        self.emit(10034, service=self.settings.service_id, duration=round(now - self.opened, 3))

    # -- policy -------------------------------------------------------------
    def refuse_command(self, command: str, code: int, reason: str) -> None:
        self.respond(f"{code} {reason}")
        self.emit(10036, command=command, reason=reason.rstrip("."))

    def process_command(self, cmd: str, *args, **kwargs) -> None:
        settings = self.settings
        if cmd in LOGIN_COMMANDS and settings.require_secured_control and not self._ssl_established:
            reason = "This service requires TLS: send AUTH TLS before USER."
            self.refuse_command(cmd, 530, reason)
            return
        if cmd in DATA_COMMANDS and settings.require_secured_data and not self._prot:
            reason = "This service requires encrypted data connections: send PBSZ 0 and PROT P."
            self.refuse_command(cmd, 522, reason)
            return
        FTPHandler.process_command(self, cmd, *args, **kwargs)

    def ftp_AUTH(self, line: str) -> None:
        if self.ssl_context is None:
            self.refuse_command("AUTH", 534, "TLS is not configured on this service.")
            return
        super().ftp_AUTH(line)

    def ftp_PROT(self, line: str) -> None:
        if line.upper() == "C" and self.settings.require_secured_data:
            self.refuse_command("PROT", 534, "This service requires PROT P.")
            return
        super().ftp_PROT(line)

    def _make_eport(self, ip: str, port: int) -> None:
        if ip != self.peer_address:
            reason = f"Data connections go only to your own address, not {ip}."
            self.refuse_command("PORT", 501, reason)
            return
        super()._make_eport(ip, port)

    def _make_epasv(self, extmode: bool = False) -> None:
        if not extmode and not self.passive_address and ":" in self.peer_address:
            self.respond("425 PASV cannot announce an IPv6 address; use EPSV.")
            return
        try:
            super()._make_epasv(extmode)
        except NoPassivePort as error:
            self._dtp_acceptor = None
            self.refuse_command("PASV", 425, f"No passive port is free: {error}.")

    # -- login --------------------------------------------------------------
    def ftp_PASS(self, line: str) -> None:
        if self.authenticated:
            self.respond("503 Already logged in.")
            return
        if not self.username:
            self.respond("503 Send USER first.")
            return
        offered = authorizer.credentials(
            self, self.username, password=line, certificate=self._client_certificate()
        )
        self._ask_aaa(offered, line)

    def _client_certificate(self) -> bytes | None:
        if not self._ssl_established or self.settings.client_ca is None:
            return None
        return tls.peer_certificate_der(self.socket)

    def _ask_aaa(self, offered: Credentials, password: str) -> None:
        """AAA may block (LDAP, HTTP): ask from a worker; this session reads nothing meanwhile."""
        self.del_channel()
        self.loop.run_blocking(
            partial(self.context.aaa.authenticate, offered),
            partial(self._aaa_answered, offered, password),
        )

    def _aaa_answered(self, offered: Credentials, password: str, future: Future) -> None:
        if self._closed:
            return
        try:
            result: AuthResult = future.result()
        except Exception:
            log.exception("authentication of %s failed with an error", offered.username)
            result = AuthResult(False, None, None, "internal error")
        if result.accepted and result.account is not None:
            self.add_channel()
            self._logged_in(result, offered)
        else:
            self.handle_auth_failed("Login incorrect.", password)

    def _logged_in(self, result: AuthResult, offered: Credentials) -> None:
        self.account = result.account
        self.login_credentials = offered
        self._logged_in_at = time.monotonic()
        self.vfs = VirtualFS(
            result.account,
            self.context.bus,
            protocol=offered.protocol,
            peer=self.peer,
            component=self.settings.component,
            temporary_grace=self.context.upload_temporary_grace,
        )
        self.username = result.account.name
        self.handle_auth_success("/", "", f"Logged in as {result.account.name}.")

    def flush_account(self) -> None:
        if self.account is not None and self.login_credentials is not None:
            duration = time.monotonic() - self._logged_in_at
            self.context.aaa.logout(self.account, self.login_credentials, duration)
        self.account = self.login_credentials = self.vfs = None
        super().flush_account()


def session_class(settings: FTPSettings, context: RuntimeContext, loop: LoopThread) -> type:
    """A handler class carrying one service's settings (pyftpdlib configures by class)."""
    ssl_context = None
    if settings.certificate is not None:
        ssl_context = tls.ftps_context(settings.certificate, client_ca=settings.client_ca)
    return type(
        f"FTPSession_{settings.service_id}",
        (FTPSession,),
        {
            "settings": settings,
            "context": context,
            "loop": loop,
            "ssl_context": ssl_context,
            "banner": settings.banner,
            "timeout": settings.idle_timeout,
            "passive_ports": settings.passive_ports,
            "passive_address": settings.passive_address,
            "tls_control_required": False,
            "tls_data_required": False,
            "use_sendfile": FTPHandler.use_sendfile,
        },
    )
