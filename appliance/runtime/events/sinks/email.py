"""Email alerts over SMTP (STARTTLS or implicit TLS), one message per event with its JSON body."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from appliance.runtime.events.event import Event
from appliance.runtime.events.filters import EventFilter
from appliance.runtime.events.printable import printable
from appliance.runtime.events.sinks.base import Sink


class EmailSink(Sink):
    max_batch = 20

    def __init__(
        self,
        handler_id: str,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        subject: str = "[appliance] {id} {name}: {message}",
        security: str = "starttls",
        username: str | None = None,
        password_file: Path | None = None,
        ca_certificate: str | None = None,
        timeout: float = 10.0,
        event_filter: EventFilter | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.sender, self.recipients = sender, recipients
        self.subject = subject
        self.security = security
        self.username = username
        self.password_file = password_file
        self.ca_certificate = ca_certificate
        self.timeout = timeout
        super().__init__(handler_id, event_filter)

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_certificate)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._tls_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                smtp.starttls(context=self._tls_context())
        if self.username and self.password_file:
            smtp.login(self.username, Path(self.password_file).read_text().strip())
        return smtp

    def message_for(self, event: Event) -> EmailMessage:
        message = EmailMessage()
        fields = {**event.as_dict(), "message": event.message}
        message["Subject"] = printable(self.subject.format_map(_Lenient(fields)))
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(event.to_json(), subtype="json")
        return message

    def deliver(self, batch: list[Event]) -> None:
        with self._connect() as smtp:
            for event in batch:
                smtp.send_message(self.message_for(event))


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
