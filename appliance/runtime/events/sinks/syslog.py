"""Syslog forwarding in RFC 5424 format over UDP, TCP or TLS (octet-counted framing, RFC 6587)."""

from __future__ import annotations

import os
import socket
import ssl
from urllib.parse import urlsplit

from appliance.runtime.events.catalogue import Severity
from appliance.runtime.events.event import Event
from appliance.runtime.events.filters import EventFilter
from appliance.runtime.events.printable import printable
from appliance.runtime.events.sinks.base import Sink

FACILITIES = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}
SEVERITIES = {
    Severity.CRITICAL: 2,
    Severity.ERROR: 3,
    Severity.WARNING: 4,
    Severity.INFO: 6,
    Severity.DEBUG: 7,
}
# The private enterprise number reserved for documentation examples (RFC 5612).
ENTERPRISE_ID = 32473
MAX_UDP_PAYLOAD = 8192


def _sd_escape(value: object) -> str:
    return printable(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_rfc5424(
    event: Event, *, facility: int, app_name: str, hostname: str, procid: int
) -> bytes:
    priority = facility * 8 + SEVERITIES[event.type.severity]
    params = {"id": event.id, "uuid": event.uuid, "component": event.component}
    if event.account:
        params["account"] = event.account
    if event.peer:
        params["peer"] = event.peer
    structured = "[appliance@{} {}]".format(
        ENTERPRISE_ID, " ".join(f'{key}="{_sd_escape(value)}"' for key, value in params.items())
    )
    header = (
        f"<{priority}>1 {event.timestamp} {hostname} {app_name} {procid} {event.id} {structured}"
    )
    return (header + " \ufeff" + printable(event.message)).encode("utf-8")


class SyslogSink(Sink):
    def __init__(
        self,
        handler_id: str,
        url: str,
        *,
        facility: str = "local0",
        app_name: str = "appliance",
        ca_certificate: str | None = None,
        timeout: float = 5.0,
        event_filter: EventFilter | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.transport = parts.scheme
        self.address = (parts.hostname or "127.0.0.1", parts.port or 514)
        self.facility = FACILITIES[facility]
        self.app_name = app_name
        self.timeout = timeout
        self.ca_certificate = ca_certificate
        self.hostname = socket.gethostname() or "-"
        self._socket: socket.socket | None = None
        self.procid = os.getpid()
        super().__init__(handler_id, event_filter)

    def _connect(self) -> socket.socket:
        if self.transport == "udp":
            family = socket.getaddrinfo(*self.address, type=socket.SOCK_DGRAM)[0][0]
            return socket.socket(family, socket.SOCK_DGRAM)
        sock = socket.create_connection(self.address, timeout=self.timeout)
        if self.transport == "tls":
            context = ssl.create_default_context(cafile=self.ca_certificate)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            sock = context.wrap_socket(sock, server_hostname=self.address[0])
        return sock

    def deliver(self, batch: list[Event]) -> None:
        messages = [
            format_rfc5424(
                event,
                facility=self.facility,
                app_name=self.app_name,
                hostname=self.hostname,
                procid=self.procid,
            )
            for event in batch
        ]
        if self._socket is None:
            self._socket = self._connect()
        try:
            if self.transport == "udp":
                for message in messages:
                    self._socket.sendto(message[:MAX_UDP_PAYLOAD], self.address)
            else:
                self._socket.sendall(b"".join(b"%d %s" % (len(m), m) for m in messages))
        except OSError:
            self._drop_socket()
            raise

    def _drop_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def shutdown(self) -> None:
        self._drop_socket()
