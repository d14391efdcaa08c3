"""Fixtures shared by integration test modules."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from tests.helpers import free_port


@pytest.fixture
def smtp_server(tmp_path: Path, key_material: Path):
    """aiosmtpd on a free loopback port, STARTTLS required: (port, received messages)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(key_material / "tls.pem")
    port = free_port()
    controller = Controller(
        Collect(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    yield port, received
    controller.stop()
