"""Build the audit sinks that [event-handlers/<id>] sections of the sink types describe."""

from __future__ import annotations

from pathlib import Path

from appliance.config import Config, Section
from appliance.runtime.database.postgresql import PostgreSQLResource
from appliance.runtime.events.filters import EventFilter
from appliance.runtime.events.sinks.base import Sink
from appliance.runtime.events.sinks.email import EmailSink
from appliance.runtime.events.sinks.sqlite import SQLiteSink
from appliance.runtime.events.sinks.syslog import SyslogSink
from appliance.runtime.events.sinks.textlog import TextLogSink
from appliance.runtime.events.sinks.webhook import WebhookSink

SINK_TYPES = ("sqlite", "postgresql", "text-log", "syslog", "email", "webhook")
AUDIT_BACKENDS = ("sqlite", "postgresql")


def _optional_path(section: Section, option: str) -> str | None:
    path = section.path(option)
    return str(path) if path else None


def build_sink(section: Section, config: Config) -> Sink:
    event_filter = EventFilter.from_options(section.options)
    handler_id = section.id
    if section.type == "sqlite":
        return SQLiteSink(handler_id, section.path("path"), event_filter)
    if section.type == "postgresql":
        from appliance.runtime.events.sinks.postgresql import PostgreSQLSink

        resource = PostgreSQLResource.from_section(config.resources[section["resource"]])
        node = config.server.options.get("name", "appliance")
        return PostgreSQLSink(handler_id, resource, node, event_filter)
    if section.type == "text-log":
        return TextLogSink(handler_id, section.path("path"), event_filter)
    if section.type == "syslog":
        return SyslogSink(
            handler_id,
            section["url"],
            facility=section["facility"],
            app_name=section["app_name"],
            ca_certificate=_optional_path(section, "ca_certificate"),
            event_filter=event_filter,
        )
    if section.type == "email":
        smtp = config.resources[section["resource"]]
        return EmailSink(
            handler_id,
            host=smtp["address"],
            port=smtp["port"],
            sender=section["email_from"],
            recipients=section["email_to"],
            subject=section["email_subject"],
            security=smtp["security"],
            username=smtp.get("username"),
            password_file=smtp.path("password_file"),
            ca_certificate=_optional_path(smtp, "ca_certificate"),
            timeout=smtp["timeout"],
            event_filter=event_filter,
        )
    if section.type == "webhook":
        return WebhookSink(
            handler_id,
            section["url"],
            timeout=section["timeout"],
            ca_certificate=_optional_path(section, "ca_certificate"),
            event_filter=event_filter,
        )
    raise ValueError(f"[{section.name}] is not a sink")


def build_sinks(config: Config) -> list[Sink]:
    return [
        build_sink(section, config)
        for section in config.event_handlers.values()
        if section.enabled and section.type in SINK_TYPES
    ]


def audit_database(config: Config) -> Path | None:
    """The path of the first enabled sqlite event handler, or None."""
    backend = audit_backend(config, "sqlite")
    return backend if isinstance(backend, Path) else None


def audit_backend(config: Config, kind: str | None = None) -> Path | PostgreSQLResource | None:
    """Where `appliance events` reads: the first enabled sqlite or postgresql event handler
    (only of `kind` when given): the SQLite file, or the PostgreSQL resource; None if none."""
    for section in config.event_handlers.values():
        if not section.enabled or section.type not in AUDIT_BACKENDS:
            continue
        if kind is not None and section.type != kind:
            continue
        if section.type == "sqlite":
            return section.path("path")
        return PostgreSQLResource.from_section(config.resources[section["resource"]])
    return None
