"""Turn an accepted AccountSpec into an Account: groups, home folder, permissions, addresses."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from appliance.config import Config
from appliance.runtime.aaa.decision import AccountSpec
from appliance.runtime.aaa.identity import Account
from appliance.runtime.aaa.permissions import USER_VARIABLE, Permissions
from appliance.runtime.fs.errors import InvalidPath
from appliance.runtime.fs.jail import normalize

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AccountError(Exception):
    """The account cannot log in as configured (no home folder, unsafe name...)."""


def _group_sections(config: Config, spec: AccountSpec) -> list:
    return [config.groups[group] for group in spec.groups if group in config.groups]


def _from_groups(config: Config, spec: AccountSpec, option: str):
    for section in _group_sections(config, spec):
        value = section.options.get(option)
        if value:
            return value
    return None


def _safe_user(name: str) -> str:
    """The account name as one path component; refuses names that would move the home."""
    try:
        safe = normalize(name)
    except InvalidPath as error:
        raise AccountError(f"account name {name!r} cannot name a folder: {error.message}") from None
    if safe != "/" + name:
        raise AccountError(f"account name {name!r} cannot name a folder")
    return name


def home_folder(config: Config, spec: AccountSpec) -> Path:
    """The real home folder, created when missing."""
    template = spec.home_folder_path or _from_groups(config, spec, "home_folder_path")
    if not template:
        raise AccountError(
            f"account {spec.name!r} has no home folder; expected home_folder_path on the "
            "account, on one of its groups or from the authentication method"
        )
    if USER_VARIABLE in template:
        template = template.replace(USER_VARIABLE, _safe_user(spec.name))
    path = Path(template)
    if not path.is_absolute():
        path = config.root / path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AccountError(f"home folder {path} cannot be created: {error.strerror}") from None
    real = Path(os.path.realpath(path))
    if not real.is_dir():
        raise AccountError(f"home folder {path} is not a folder")
    return real


def allowed_networks(config: Config, spec: AccountSpec) -> list[Network]:
    """Where the account may log in from: its own list, else its groups' lists; [] = anywhere."""
    if spec.source_addresses:
        values = list(spec.source_addresses)
    else:
        values = [
            value
            for section in _group_sections(config, spec)
            for value in section.options.get("source_addresses") or []
        ]
    return [ipaddress.ip_network(value, strict=False) for value in values]


def address_allowed(networks: list[Network], address: str) -> bool:
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def build_account(config: Config, spec: AccountSpec, method: str) -> Account:
    amend = spec.amend_write_name or _from_groups(config, spec, "amend_write_name")
    permissions = Permissions(
        spec.name,
        spec.permissions,
        {
            section.id: section.options.get("permissions") or []
            for section in _group_sections(config, spec)
        },
    )
    return Account(
        name=spec.name,
        home_folder=home_folder(config, spec),
        groups=tuple(spec.groups),
        permissions=permissions,
        amend_write_name=None if amend in (None, "none") else amend,
        method=method,
    )
