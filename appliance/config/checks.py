"""Checks across sections and into files: listeners, TLS material, SSH host keys, resources."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from appliance.config.homes import home_owners, home_template_root
from appliance.config.model import Config, Problem, Section
from appliance.runtime.aaa import public_keys

TLS_SERVICE_TYPES = {"ftps-implicit", "https"}
MIN_RSA_HOST_KEY_BITS = 3072


def cross_check(config: Config) -> list[Problem]:
    return [
        *_unique_listeners(config),
        *_tls_material(config),
        *_ssh_host_keys(config),
        *_resource_types(config),
        *_handler_chains(config),
        *_authorized_keys(config),
        *_group_mappings(config),
        *_folders_can_exist(config),
        *_home_folders(config),
        *_locations(config),
        *_transfers(config),
    ]


def _problem(section: Section, option: str, message: str) -> Problem:
    return Problem(str(section.source), section.name, option, message)


def _listener_conflict(a: str, b: str) -> bool:
    """Two addresses on one port conflict when equal or one is a wildcard covering the other."""
    ip_a, ip_b = ipaddress.ip_address(a), ipaddress.ip_address(b)
    if ip_a == ip_b:
        return True
    for wildcard, other in ((ip_a, ip_b), (ip_b, ip_a)):
        if wildcard.is_unspecified and (wildcard.version == other.version or wildcard.version == 6):
            return True
    return False


def _ports_used(section: Section) -> Iterator[int]:
    yield section["port"]
    passive = section.options.get("passive_port_range")
    if passive:
        first, last = (int(part) for part in passive.split("-"))
        yield from range(first, last + 1)


def _unique_listeners(config: Config) -> Iterator[Problem]:
    seen: list[tuple[str, int, Section]] = []
    for section in config.services.values():
        if not section.enabled:
            continue
        address = section["address"]
        for port in _ports_used(section):
            for other_address, other_port, other in seen:
                if (
                    other is not section
                    and port == other_port
                    and _listener_conflict(address, other_address)
                ):
                    what = "port" if port == section["port"] else "passive_port_range"
                    yield _problem(
                        section,
                        what,
                        f"{address}:{port} is already used by [{other.name}]; "
                        "expected a unique address and port per listener",
                    )
                    break
            else:
                seen.append((address, port, section))
                continue
            break


def _tls_material(config: Config) -> Iterator[Problem]:
    server_pem = config.server.path("tls_private_certificate")
    if server_pem:
        yield from _check_pem(config.server, "tls_private_certificate", server_pem)
    for section in config.services.values():
        own = section.path("tls_private_certificate")
        if own:
            yield from _check_pem(section, "tls_private_certificate", own)
        needs_tls = section.type in TLS_SERVICE_TYPES or (
            section.type == "ftp"
            and (
                section.options.get("ftps_require_secured_control")
                or section.options.get("ftps_require_secured_data")
            )
        )
        if needs_tls and not (own or server_pem):
            yield _problem(
                section,
                "tls_private_certificate",
                "this service needs TLS; expected tls_private_certificate here or in [server]",
            )


def _check_pem(section: Section, option: str, path: Path) -> Iterator[Problem]:
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        yield _problem(
            section,
            option,
            f"{path}: no unencrypted PEM private key found ({error}); "
            "expected the key and the certificate in one PEM file",
        )
        return
    try:
        certificate = x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        yield _problem(
            section,
            option,
            f"{path}: no PEM certificate found; expected the key and "
            "the certificate chain in one PEM file",
        )
        return
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if certificate.public_key().public_bytes(encoding, public) != key.public_key().public_bytes(
        encoding, public
    ):
        yield _problem(section, option, f"{path}: the certificate does not match the private key")


def _ssh_host_keys(config: Config) -> Iterator[Problem]:
    for section in [config.server, *config.services.values()]:
        for value in section.options.get("ssh_server_keys") or []:
            yield from _check_host_key(
                section, Path(value) if Path(value).is_absolute() else section.source.parent / value
            )
    for section in config.services.values():
        if (
            section.type == "ssh"
            and section.enabled
            and not (
                section.options.get("ssh_server_keys")
                or config.server.options.get("ssh_server_keys")
            )
        ):
            yield _problem(
                section,
                "ssh_server_keys",
                "an ssh service needs host keys; expected ssh_server_keys here or in [server]",
            )


def _check_host_key(section: Section, path: Path) -> Iterator[Problem]:
    try:
        key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        yield _problem(
            section, "ssh_server_keys", f"{path}: not an unencrypted OpenSSH private key ({error})"
        )
        return
    if isinstance(key, dsa.DSAPrivateKey):
        yield _problem(
            section,
            "ssh_server_keys",
            f"{path}: DSA host keys are not allowed; expected ed25519, ecdsa or rsa >= 3072",
        )
    elif isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_HOST_KEY_BITS:
        yield _problem(
            section,
            "ssh_server_keys",
            f"{path}: RSA host key of {key.key_size} bits; expected at least "
            f"{MIN_RSA_HOST_KEY_BITS}",
        )
    elif not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        yield _problem(section, "ssh_server_keys", f"{path}: unsupported host key type")


RESOURCE_TYPE_OF_HANDLER = {"email": "smtp", "postgresql": "postgresql"}


def _resource_types(config: Config) -> Iterator[Problem]:
    """Each `resource` option names a resource of the type its user needs."""
    uses = [
        (section, "resource", RESOURCE_TYPE_OF_HANDLER[section.type])
        for section in config.event_handlers.values()
        if section.type in RESOURCE_TYPE_OF_HANDLER
    ]
    if config.server.options.get("shared_state"):
        uses.append((config.server, "shared_state", "postgresql"))
    for section, option, wanted in uses:
        resource = config.resources.get(section[option])
        if resource is not None and resource.type != wanted:
            yield _problem(
                section,
                option,
                f"[resources/{resource.id}] is of type {resource.type}; "
                f"expected a {wanted} resource",
            )


def _handler_chains(config: Config) -> Iterator[Problem]:
    """`after` must name a file handler and never loop; quarantine stays out of home folders."""
    handlers = config.event_handlers
    for section in handlers.values():
        after = section.options.get("after")
        if (
            after
            and "quarantine_folder" not in handlers[after].options
            and handlers[after].type != "file-dispatcher"
        ):
            yield _problem(
                section,
                "after",
                f"[event-handlers/{after}] is not a file handler; "
                "expected a file-dispatcher, signature-check or "
                "external-command",
            )
            continue
        seen = {section.id}
        while after:
            if after in seen:
                yield _problem(section, "after", f"the chain of handlers loops back to {after}")
                break
            seen.add(after)
            after = handlers[after].options.get("after")
        folder = section.path("quarantine_folder")
        if folder is not None:
            yield from _outside_homes(config, section, folder)


def _outside_homes(config: Config, section: Section, folder: Path) -> Iterator[Problem]:
    folder = folder.resolve()
    for owner, template in home_owners(config):
        root = home_template_root(config, template).resolve()
        if folder == root or root in folder.parents:
            yield _problem(
                section,
                "quarantine_folder",
                f"{folder} is inside the home folders of [{owner.name}]; expected a "
                "folder no account can reach",
            )
            return


def _authorized_keys(config: Config) -> Iterator[Problem]:
    """Every SSH key line of an account must be usable: ed25519, ecdsa or rsa >= 2048."""
    for section in config.accounts.values():
        inline = section.options.get("ssh_authorized_keys") or []
        for problem in public_keys.parse_lines(inline)[1]:
            yield _problem(section, "ssh_authorized_keys", problem)
        path = section.path("ssh_authorized_keys_path")
        if path is None:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            yield _problem(section, "ssh_authorized_keys_path", f"{path}: cannot be read: {error}")
            continue
        for problem in public_keys.parse_lines(lines)[1]:
            yield _problem(section, "ssh_authorized_keys_path", f"{path}: {problem}")


def _group_mappings(config: Config) -> Iterator[Problem]:
    """LDAP group_mapping lines must name appliance groups that exist."""
    for section in config.authentications.values():
        for line in section.options.get("group_mapping") or []:
            group = line.rpartition(",")[2].strip()
            if group not in config.groups:
                yield _problem(
                    section,
                    "group_mapping",
                    f"{line!r} maps to [groups/{group}], which does not exist",
                )


def _file_in_the_way(folder: Path) -> Path | None:
    """The existing non-folder (a regular file...) at `folder` or above it, if any."""
    for candidate in (folder, *folder.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def _folders_can_exist(config: Config) -> Iterator[Problem]:
    """Folders the runtime creates or writes must not lie at or under an existing file."""
    wanted: list[tuple[Section, str, Path]] = [(config.server, "data_folder", config.data_folder)]
    for section in config.event_handlers.values():
        if section.type in ("sqlite", "text-log") and section.path("path") is not None:
            wanted.append((section, "path", section.path("path").parent))
        if section.path("quarantine_folder") is not None:
            wanted.append((section, "quarantine_folder", section.path("quarantine_folder")))
    for section, template in home_owners(config):
        wanted.append((section, "home_folder_path", home_template_root(config, template)))
    for section, option, folder in wanted:
        blocker = _file_in_the_way(folder)
        if blocker is not None:
            yield _problem(
                section,
                option,
                f"{folder} cannot be a folder: {blocker} exists and is not a folder",
            )


def _home_folders(config: Config) -> Iterator[Problem]:
    """A home folder never climbs with `..` and never holds the configuration or the
    runtime's data (server.ini, keys, the audit database would be the account's files)."""
    protected = [config.root.resolve(), config.data_folder.resolve()]
    for section, template in home_owners(config):
        if ".." in Path(template.replace("\\", "/")).parts:
            yield _problem(
                section,
                "home_folder_path",
                f"{template!r} climbs out with '..'; expected a path without '..'",
            )
            continue
        root = home_template_root(config, template).resolve()
        for folder in protected:
            if folder == root or root in folder.parents:
                yield _problem(
                    section,
                    "home_folder_path",
                    f"{template!r} would contain {folder}; expected home folders outside the "
                    "configuration and data folders",
                )
                break


def _locations(config: Config) -> Iterator[Problem]:
    """A local location is an existing folder; an sftp one has a usable way to log in; plain
    ftp is opted in."""
    for section in config.locations.values():
        if section.type == "local":
            folder = section.path("path")
            if not folder.is_dir():
                yield _problem(
                    section, "path", f"{folder} is not a folder; expected an existing one"
                )
        elif section.type == "sftp":
            yield from _sftp_credentials(section)
        elif section.type == "ftp" and not section["allow_plaintext"]:
            yield _problem(
                section,
                "allow_plaintext",
                "type = ftp sends the password and the files unencrypted; expected type = ftps, "
                "or allow_plaintext = yes to accept that",
            )
        elif section.type == "ftps" and section.options.get("client_certificate"):
            yield from _check_pem(section, "client_certificate", section.path("client_certificate"))


def _sftp_credentials(section: Section) -> Iterator[Problem]:
    import asyncssh

    key_file = section.path("private_key")
    if key_file is None and section.path("password_file") is None:
        yield _problem(
            section, "private_key", "no way to log in; expected private_key and/or password_file"
        )
    elif key_file is not None:
        try:
            asyncssh.read_private_key(key_file)
        except (asyncssh.KeyImportError, OSError, ValueError) as error:
            yield _problem(
                section,
                "private_key",
                f"{key_file}: not an unencrypted private key ({error}); expected an OpenSSH or "
                "PEM key without passphrase",
            )


def _transfers(config: Config) -> Iterator[Problem]:
    """Source and destination fit together; the options a trigger or `after` needs are set."""
    for section in config.transfers.values():
        source = config.locations.get(section["source"])
        destination = config.locations[section["destination"]]
        if source is None:
            folder = section.path("source")
            if not folder.is_dir():
                defined = ", ".join(sorted(config.locations)) or "none defined"
                yield _problem(
                    section,
                    "source",
                    f"{section['source']!r} is neither a [locations/<id>] (defined: {defined}) "
                    "nor an existing folder; expected one of them",
                )
        remote_source = source is not None and source.type != "local"
        if remote_source and destination.type != "local":
            yield _problem(
                section,
                "destination",
                f"[locations/{destination.id}] is of type {destination.type} and so is the "
                "source; expected one side to be a local location (no remote to remote yet)",
            )
        if remote_source and section["trigger"] == "event":
            yield _problem(
                section,
                "trigger",
                "trigger = event needs a local source; expected interval or manual for an "
                f"{source.type} source",
            )
        if section["trigger"] == "interval" and "interval" not in section.options:
            yield _problem(section, "interval", "trigger = interval needs interval (seconds)")
        if section["after"] == "archive" and not section.options.get("archive_path"):
            yield _problem(section, "archive_path", "after = archive needs archive_path")
        if section["retry_max_delay"] < section["retry_delay"]:
            yield _problem(
                section,
                "retry_max_delay",
                f"{section['retry_max_delay']} is below retry_delay; expected at least "
                f"{section['retry_delay']}",
            )
