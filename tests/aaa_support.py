"""Helpers for AAA and filesystem tests: a server.ini written in the test, a bus that records."""

from __future__ import annotations

import textwrap
from pathlib import Path

from appliance.config import Config, load_config
from appliance.runtime.aaa.core import AAA
from appliance.runtime.aaa.identity import Credentials
from appliance.runtime.context import RuntimeContext
from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.event import Event


class RecordingBus(EventBus):
    """A real EventBus without sinks that keeps every event for assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []
        self.subscribe(self.events.append)

    def ids(self) -> list[int]:
        return [event.id for event in self.events]

    def last(self, event_id: int) -> Event:
        return [event for event in self.events if event.id == event_id][-1]


def write_config(folder: Path, text: str) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.ini").write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(folder / "server.ini")


def make_aaa(folder: Path, text: str) -> tuple[AAA, RecordingBus]:
    bus = RecordingBus()
    context = RuntimeContext(config=write_config(folder, text), bus=bus)
    context.aaa = AAA(context)
    return context.aaa, bus


def login(
    username: str,
    password: str | None = None,
    *,
    protocol: str = "sftp",
    service: str = "sftp",
    address: str = "127.0.0.1",
    **extra,
) -> Credentials:
    return Credentials(
        username=username,
        protocol=protocol,
        service_id=service,
        peer_address=address,
        peer_port=40000,
        password=password,
        **extra,
    )
