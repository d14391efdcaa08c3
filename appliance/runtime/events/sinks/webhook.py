"""Webhook: HTTP POST of each event's JSON to a configured URL."""

from __future__ import annotations

import ssl
import urllib.request

from appliance.runtime.events.event import Event
from appliance.runtime.events.filters import EventFilter
from appliance.runtime.events.sinks.base import Sink


class WebhookSink(Sink):
    def __init__(
        self,
        handler_id: str,
        url: str,
        *,
        timeout: float = 10.0,
        ca_certificate: str | None = None,
        event_filter: EventFilter | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._context = None
        if url.startswith("https:"):
            self._context = ssl.create_default_context(cafile=ca_certificate)
            self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        super().__init__(handler_id, event_filter)

    def deliver(self, batch: list[Event]) -> None:
        for event in batch:
            request = urllib.request.Request(  # noqa: S310 - scheme checked by the schema
                self.url,
                data=event.to_json().encode(),
                headers={"Content-Type": "application/json", "User-Agent": "appliance"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context) as r:  # noqa: S310
                if r.status >= 300:
                    raise OSError(f"{self.url} answered HTTP {r.status}")
