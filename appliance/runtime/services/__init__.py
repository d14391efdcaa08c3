"""Protocol services: thin adapters from a protocol onto the shared AAA, filesystem and events.

A service class takes (section, context) and has `async start()`, `async stop()` and
`listening` -> (address, port). Modules are imported on first use, so a service type whose
module is not there yet is reported (event 20078) instead of breaking the runtime.
"""

from __future__ import annotations

import importlib

SERVICE_CLASSES = {
    "ssh": "appliance.runtime.services.ssh:SSHService",
    "ftp": "appliance.runtime.services.ftp:FTPService",
    "ftps-implicit": "appliance.runtime.services.ftp:FTPService",
    "http": "appliance.runtime.services.http:HTTPService",
    "https": "appliance.runtime.services.http:HTTPService",
    "http-redirect": "appliance.runtime.services.http:HTTPRedirectService",
}


def service_class(service_type: str) -> type | None:
    """The class serving `service_type`, or None when this build does not have it."""
    target = SERVICE_CLASSES.get(service_type)
    if target is None:
        return None
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise
    return getattr(module, class_name)
