"""The catalogue of every event the appliance emits: numeric id, message template, groups, data.

Ids follow SFTPPlus where it documents one for the same situation (10033 new FTP
connection, 20076 service started, 40007 HTTP file access started, 20137 authentication
succeeded, 20021 authentication failed), so SIEM rules written for it carry over. Other ids
are ours, in the same ranges: 10xxx FTP, 20xxx server, services, AAA and files, 30xxx SSH,
40xxx HTTP, 50xxx event handlers, 60xxx audit sinks, 70xxx high availability, 80xxx client
transfers (the appliance as a client of partners' servers).

docs/events.md is generated from this module (`appliance events --catalogue-markdown`);
tests/unit/test_event_catalogue.py fails when it is stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Operation(StrEnum):
    """What kind of thing happened; used by event-handler filters (`groups`)."""

    SERVER = "server"
    SERVICE = "service"
    CONFIGURATION = "configuration"
    CONNECTION = "connection"
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    BAN = "ban"
    FILE = "file"
    FOLDER = "folder"
    TRANSFER = "transfer"
    HANDLER = "handler"
    AUDIT = "audit"
    HA = "ha"


@dataclass(frozen=True)
class EventType:
    id: int
    name: str
    template: str
    severity: Severity
    operation: Operation
    fields: tuple[str, ...] = ()
    durable: bool = False
    """A durable event is committed to the audit database before `emit` returns."""

    def render(self, data: dict) -> str:
        try:
            return self.template.format_map(_Lenient(data))
        except (ValueError, IndexError, AttributeError):
            return self.template


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_S, _O = Severity, Operation

CATALOGUE: tuple[EventType, ...] = (
    # 1xxxx: FTP and FTPS
    EventType(
        10033,
        "ftp-connection-opened",
        "New FTP connection from {peer} on {service}.",
        _S.INFO,
        _O.CONNECTION,
        ("service",),
    ),
    EventType(
        10034,
        "ftp-connection-closed",
        "FTP connection from {peer} closed.",
        _S.INFO,
        _O.CONNECTION,
        ("service", "duration"),
    ),
    EventType(
        10035,
        "ftp-tls-negotiated",
        "TLS negotiated on the {channel} channel: {version} {cipher}.",
        _S.INFO,
        _O.CONNECTION,
        ("channel", "version", "cipher"),
    ),
    EventType(
        10036,
        "ftp-command-refused",
        "FTP command {command} refused: {reason}.",
        _S.WARNING,
        _O.AUTHORIZATION,
        ("command", "reason"),
    ),
    EventType(
        10037,
        "ftp-tls-handshake-failed",
        "TLS handshake on the {channel} channel failed.",
        _S.WARNING,
        _O.CONNECTION,
        ("channel",),
    ),
    EventType(
        10038,
        "ftp-proxy-header-refused",
        "FTP {channel} connection from {peer} refused: no valid PROXY protocol v2 header "
        "({reason}).",
        _S.WARNING,
        _O.CONNECTION,
        ("channel", "reason"),
    ),
    # 2xxxx: server, services, configuration
    EventType(
        20074,
        "server-started",
        "Server started with configuration {config}.",
        _S.INFO,
        _O.SERVER,
        ("config", "version"),
    ),
    EventType(
        20075,
        "server-stopped",
        "Server stopped ({reason}).",
        _S.INFO,
        _O.SERVER,
        ("reason",),
        durable=True,
    ),
    EventType(
        20076,
        "service-started",
        "Service {service} ({type}) started on {address}:{port}.",
        _S.INFO,
        _O.SERVICE,
        ("service", "type", "address", "port"),
    ),
    EventType(
        20077, "service-stopped", "Service {service} stopped.", _S.INFO, _O.SERVICE, ("service",)
    ),
    EventType(
        20078,
        "service-failed",
        "Service {service} failed to start on {address}:{port}: {error}.",
        _S.ERROR,
        _O.SERVICE,
        ("service", "address", "port", "error"),
    ),
    EventType(
        20080,
        "configuration-reloaded",
        "Configuration reloaded from {config}: {changes}.",
        _S.INFO,
        _O.CONFIGURATION,
        ("config", "changes"),
        durable=True,
    ),
    EventType(
        20081,
        "configuration-rejected",
        "New configuration rejected, the previous one keeps running: {problems}.",
        _S.ERROR,
        _O.CONFIGURATION,
        ("config", "problems"),
        durable=True,
    ),
    # 20xxx: authentication and authorization (shared by every protocol)
    EventType(
        20137,
        "authentication-succeeded",
        "Account {account} authenticated by {method} over {protocol}.",
        _S.INFO,
        _O.AUTHENTICATION,
        ("method", "protocol", "credential", "home_folder", "groups", "permissions"),
        durable=True,
    ),
    EventType(
        20021,
        "authentication-failed",
        "Authentication of {username} over {protocol} failed: {reason}.",
        _S.WARNING,
        _O.AUTHENTICATION,
        ("username", "method", "protocol", "credential", "reason"),
        durable=True,
    ),
    EventType(
        20022,
        "authentication-method-error",
        "Authentication method {method} could not answer: {error}.",
        _S.ERROR,
        _O.AUTHENTICATION,
        ("method", "error"),
    ),
    EventType(
        20023,
        "connection-refused-banned",
        "Connection from {peer} refused: address banned until {until}.",
        _S.WARNING,
        _O.BAN,
        ("until",),
    ),
    EventType(
        20024,
        "address-banned",
        "{subject} banned for {duration} seconds after {failures} failed logins.",
        _S.WARNING,
        _O.BAN,
        ("subject", "duration", "failures"),
        durable=True,
    ),
    EventType(
        20025, "address-unbanned", "{subject} is no longer banned.", _S.INFO, _O.BAN, ("subject",)
    ),
    EventType(
        20026,
        "connection-limit-reached",
        "Connection from {peer} refused: service {service} is at its limit of {limit}.",
        _S.WARNING,
        _O.CONNECTION,
        ("service", "limit"),
    ),
    EventType(
        20027,
        "logout",
        "Account {account} logged out of {protocol}.",
        _S.INFO,
        _O.AUTHENTICATION,
        ("protocol", "duration"),
    ),
    EventType(
        20040,
        "permission-denied",
        "Permission denied: {operation} on {path}.",
        _S.WARNING,
        _O.AUTHORIZATION,
        ("operation", "path"),
    ),
    EventType(
        20041,
        "path-refused",
        "Path refused: {path} ({reason}).",
        _S.WARNING,
        _O.AUTHORIZATION,
        ("path", "reason"),
    ),
    # 20xxx: files and folders
    EventType(
        20050,
        "file-upload-completed",
        "Upload of {path} completed: {bytes} bytes in {duration} s.",
        _S.INFO,
        _O.TRANSFER,
        ("path", "real_path", "bytes", "duration", "protocol"),
        durable=True,
    ),
    EventType(
        20051,
        "file-upload-failed",
        "Upload of {path} failed after {bytes} bytes: {reason}.",
        _S.WARNING,
        _O.TRANSFER,
        ("path", "bytes", "duration", "reason", "protocol"),
        durable=True,
    ),
    EventType(
        20052,
        "file-download-completed",
        "Download of {path} completed: {bytes} bytes in {duration} s.",
        _S.INFO,
        _O.TRANSFER,
        ("path", "bytes", "duration", "protocol"),
        durable=True,
    ),
    EventType(
        20053,
        "file-download-failed",
        "Download of {path} failed after {bytes} bytes: {reason}.",
        _S.WARNING,
        _O.TRANSFER,
        ("path", "bytes", "duration", "reason", "protocol"),
    ),
    EventType(
        20054, "file-deleted", "File {path} deleted.", _S.INFO, _O.FILE, ("path",), durable=True
    ),
    EventType(
        20055,
        "path-renamed",
        "{path} renamed to {destination}.",
        _S.INFO,
        _O.FILE,
        ("path", "destination"),
        durable=True,
    ),
    EventType(20056, "folder-created", "Folder {path} created.", _S.INFO, _O.FOLDER, ("path",)),
    EventType(
        20057,
        "folder-deleted",
        "Folder {path} deleted.",
        _S.INFO,
        _O.FOLDER,
        ("path",),
        durable=True,
    ),
    EventType(20058, "folder-listed", "Folder {path} listed.", _S.DEBUG, _O.FOLDER, ("path",)),
    EventType(
        20059,
        "attributes-changed",
        "Attributes of {path} changed: {attributes}.",
        _S.INFO,
        _O.FILE,
        ("path", "attributes"),
    ),
    EventType(
        20060,
        "upload-temporary-removed",
        "Orphaned upload temporary {path} ({bytes} bytes, untouched for over {grace} s) removed.",
        _S.INFO,
        _O.FILE,
        ("path", "bytes", "grace"),
    ),
    # 3xxxx: SSH, SFTP, SCP
    EventType(
        30001,
        "ssh-connection-opened",
        "New SSH connection from {peer} on {service}.",
        _S.INFO,
        _O.CONNECTION,
        ("service",),
    ),
    EventType(
        30002,
        "ssh-connection-closed",
        "SSH connection from {peer} closed.",
        _S.INFO,
        _O.CONNECTION,
        ("service", "duration", "reason"),
    ),
    EventType(
        30003,
        "ssh-request-refused",
        "SSH {request} refused: {reason}.",
        _S.WARNING,
        _O.AUTHORIZATION,
        ("request", "reason"),
    ),
    EventType(
        30004,
        "ssh-session-started",
        "SSH {kind} session started.",
        _S.INFO,
        _O.CONNECTION,
        ("kind", "command"),
    ),
    EventType(
        30005,
        "ssh-idle-timeout",
        "SSH connection from {peer} closed after {timeout} s without activity.",
        _S.INFO,
        _O.CONNECTION,
        ("timeout",),
    ),
    EventType(
        30006,
        "ssh-proxy-header-refused",
        "Connection from {peer} refused: no valid PROXY protocol v2 header ({reason}).",
        _S.WARNING,
        _O.CONNECTION,
        ("reason",),
    ),
    # 4xxxx: HTTP
    EventType(
        40007,
        "http-file-access-started",
        "HTTP {method} {path} started.",
        _S.INFO,
        _O.TRANSFER,
        ("method", "path"),
    ),
    EventType(
        40008,
        "http-csrf-refused",
        "Possible CSRF: {method} {path} from origin {origin}.",
        _S.WARNING,
        _O.AUTHORIZATION,
        ("method", "path", "origin"),
    ),
    EventType(
        40009,
        "http-connection-opened",
        "New HTTP connection from {peer} on {service}.",
        _S.DEBUG,
        _O.CONNECTION,
        ("service",),
    ),
    EventType(
        40010,
        "http-proxy-header-refused",
        "HTTP connection from {peer} refused: no valid PROXY protocol v2 header ({reason}).",
        _S.WARNING,
        _O.CONNECTION,
        ("reason",),
    ),
    EventType(
        40011,
        "http-session-adopted",
        "HTTP session of {account} from {peer} continued on this node (method {method}).",
        _S.INFO,
        _O.AUTHENTICATION,
        ("method",),
    ),
    EventType(
        40012,
        "http-request-refused",
        "HTTP request from {peer} refused with {status}: {reason}.",
        _S.WARNING,
        _O.CONNECTION,
        ("status", "reason"),
    ),
    # 5xxxx: event handlers
    EventType(
        50001,
        "handler-succeeded",
        "Handler {handler} done for {path}: {result}.",
        _S.INFO,
        _O.HANDLER,
        ("handler", "path", "result"),
    ),
    EventType(
        50002,
        "handler-failed",
        "Handler {handler} failed for {path}: {error}.",
        _S.ERROR,
        _O.HANDLER,
        ("handler", "path", "error"),
        durable=True,
    ),
    EventType(
        50003,
        "file-quarantined",
        "File {path} quarantined by {handler}: {reason}.",
        _S.WARNING,
        _O.HANDLER,
        ("handler", "path", "quarantine_path", "reason"),
        durable=True,
    ),
    EventType(
        50004,
        "handler-retrying",
        "Handler {handler} failed ({error}); {tries_left} tries left, next in {retry_in} s.",
        _S.WARNING,
        _O.HANDLER,
        ("handler", "error", "tries_left", "retry_in"),
    ),
    # 6xxxx: audit sinks
    EventType(
        60001,
        "sink-delivery-failed",
        "Event handler {handler} could not deliver events: {error}; retrying in {retry_in} s.",
        _S.ERROR,
        _O.AUDIT,
        ("handler", "error", "retry_in", "pending"),
    ),
    EventType(
        60002,
        "sink-delivery-recovered",
        "Event handler {handler} delivers again after {failures} failed attempts.",
        _S.INFO,
        _O.AUDIT,
        ("handler", "failures"),
    ),
    EventType(
        60003,
        "sink-events-dropped",
        "Event handler {handler} dropped {count} events: its queue is full.",
        _S.ERROR,
        _O.AUDIT,
        ("handler", "count"),
    ),
    EventType(
        60004,
        "sink-test-event",
        "Test event sent by {requested_by}.",
        _S.INFO,
        _O.AUDIT,
        ("requested_by",),
    ),
    # 7xxxx: high availability
    EventType(
        70001,
        "ha-sync-completed",
        "Generation {generation} synced to {peer_node}.",
        _S.INFO,
        _O.HA,
        ("generation", "peer_node", "files"),
    ),
    EventType(
        70002,
        "ha-sync-failed",
        "Sync to {peer_node} failed (attempt {attempt} of {attempts}): {error}.",
        _S.ERROR,
        _O.HA,
        ("peer_node", "error", "attempt", "attempts"),
    ),
    EventType(
        70003,
        "ha-promoted",
        "Node promoted to active with generation {generation}.",
        _S.WARNING,
        _O.HA,
        ("generation", "age"),
        durable=True,
    ),
    EventType(
        70004,
        "ha-generation-accepted",
        "Generation {generation} from {source_node} accepted: {files} files verified, installed.",
        _S.INFO,
        _O.HA,
        ("generation", "source_node", "files", "digest"),
    ),
    EventType(
        70005,
        "ha-generation-refused",
        "Generation {generation} from {source_node} refused: {error}.",
        _S.ERROR,
        _O.HA,
        ("generation", "source_node", "error"),
    ),
    EventType(
        70006,
        "ha-promote-refused",
        "Promotion refused: {reason}.",
        _S.ERROR,
        _O.HA,
        ("generation", "reason"),
        durable=True,
    ),
    EventType(
        70007,
        "ha-drill-completed",
        "DR drill: generation {generation} served, first SFTP login {first_login_seconds} s "
        "after the promote command.",
        _S.INFO,
        _O.HA,
        ("generation", "staleness_seconds", "first_login_seconds", "forced"),
    ),
    EventType(
        70008,
        "ha-demoted",
        "Node demoted to passive: {reason}.",
        _S.WARNING,
        _O.HA,
        ("reason",),
        durable=True,
    ),
    EventType(
        70009,
        "ha-failback-completed",
        "Failback to {peer_node} completed with generation {generation}.",
        _S.WARNING,
        _O.HA,
        ("peer_node", "generation"),
    ),
    EventType(
        70010,
        "ha-failback-failed",
        "Failback to {peer_node} failed: {error}; this node stays active.",
        _S.ERROR,
        _O.HA,
        ("peer_node", "error"),
    ),
    # 8xxxx: client transfers
    EventType(
        80001,
        "client-transfer-queued",
        "Transfer {transfer}: {source} queued ({bytes} bytes).",
        _S.INFO,
        _O.TRANSFER,
        ("transfer", "source", "bytes"),
    ),
    EventType(
        80002,
        "client-transfer-started",
        "Transfer {transfer}: sending {source} to {destination} (attempt {attempt}).",
        _S.INFO,
        _O.TRANSFER,
        ("transfer", "source", "destination", "attempt"),
    ),
    EventType(
        80003,
        "client-transfer-completed",
        "Transfer {transfer}: {source} delivered to {destination}, {bytes} bytes in {duration} s.",
        _S.INFO,
        _O.TRANSFER,
        ("transfer", "source", "destination", "bytes", "duration", "sha256", "attempt", "how"),
        durable=True,
    ),
    EventType(
        80004,
        "client-transfer-retry-scheduled",
        "Transfer {transfer}: {source} failed ({error}); retry {attempt} of {retries} in "
        "{retry_in} s.",
        _S.WARNING,
        _O.TRANSFER,
        ("transfer", "source", "error", "attempt", "retries", "retry_in"),
    ),
    EventType(
        80005,
        "client-transfer-failed",
        "Transfer {transfer}: {source} failed after {attempts} attempts: {error}.",
        _S.ERROR,
        _O.TRANSFER,
        ("transfer", "source", "error", "attempts"),
        durable=True,
    ),
    EventType(
        80006,
        "client-transfer-host-key-refused",
        "Location {location}: host key of {peer} refused ({presented}); expected {expected}.",
        _S.ERROR,
        _O.CONNECTION,
        ("location", "presented", "expected"),
        durable=True,
    ),
    EventType(
        80007,
        "client-transfer-login-refused",
        "Location {location}: {peer} refused the login of {username}: {error}.",
        _S.ERROR,
        _O.AUTHENTICATION,
        ("location", "username", "error"),
    ),
    EventType(
        80008,
        "client-transfer-scan-failed",
        "Transfer {transfer}: the source {source} cannot be listed: {error}.",
        _S.WARNING,
        _O.TRANSFER,
        ("transfer", "source", "error"),
    ),
    EventType(
        80009,
        "client-transfer-tls-refused",
        "Location {location}: the TLS certificate of {peer} was refused: {error}.",
        _S.ERROR,
        _O.CONNECTION,
        ("location", "error"),
        durable=True,
    ),
)

BY_ID: dict[int, EventType] = {event.id: event for event in CATALOGUE}
BY_NAME: dict[str, EventType] = {event.name: event for event in CATALOGUE}


def event_type(event_id: int) -> EventType:
    """The catalogue entry for `event_id`; KeyError names the id when it does not exist."""
    try:
        return BY_ID[event_id]
    except KeyError:
        raise KeyError(f"event id {event_id} is not in the catalogue") from None


def catalogue_markdown() -> str:
    """docs/events.md: the catalogue as a table, grouped by range."""
    lines = [
        "# Event catalogue",
        "",
        "Generated from `appliance/runtime/events/catalogue.py` by",
        "`appliance events --catalogue-markdown > docs/events.md`; do not edit by hand.",
        "",
        "Durable events are committed to the audit database before the action they record is",
        "reported as successful to the client.",
        "",
        "| id | name | severity | group | durable | message | data fields |",
        "|---|---|---|---|---|---|---|",
    ]
    for event in sorted(CATALOGUE, key=lambda e: e.id):
        lines.append(
            f"| {event.id} | {event.name} | {event.severity} | {event.operation} | "
            f"{'yes' if event.durable else 'no'} | {event.template} | "
            f"{', '.join(event.fields)} |"
        )
    return "\n".join(lines) + "\n"
