"""Authentication methods, one module per [authentications/<id>] type."""

from __future__ import annotations

from appliance.config import Config, Section
from appliance.runtime.aaa.decision import Method
from appliance.runtime.aaa.methods.application import ApplicationMethod

IMPLICIT_APPLICATION = "application"
"""The chain used when neither the service nor [server] names one: accounts in server.ini."""


def build_method(section: Section | None, config: Config) -> Method:
    """The method for one section (None: the implicit application method)."""
    if section is None or section.type == "application":
        return ApplicationMethod(section.id if section else IMPLICIT_APPLICATION, config)
    if section.type == "ldap":
        from appliance.runtime.aaa.methods.ldap import LDAPMethod

        return LDAPMethod(section, config)
    if section.type == "http":
        from appliance.runtime.aaa.methods.http_api import HTTPMethod

        return HTTPMethod(section, config)
    raise ValueError(f"[{section.name}] has unknown type {section.type!r}")
