"""Whether a listener could bind an address and port now, asked before anything is stopped."""

from __future__ import annotations

import socket


def bind_problem(address: str, port: int) -> str | None:
    """Why a TCP listener cannot bind `address`:`port` (in use, no such address...), or None.

    The probe binds and closes at once, with the options every listener uses (SO_REUSEADDR
    where the system has it), so a port held by a listening process is reported, not a
    port in TIME_WAIT."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        probe = socket.create_server((address, port), family=family)
    except OSError as error:
        return error.strerror or str(error)
    probe.close()
    return None
