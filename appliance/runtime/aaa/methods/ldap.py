"""The `ldap` method (ldap3): bind with a DN template, or search with a service account then bind.

Server URIs are tried in order: a server that cannot be reached, times out or whose TLS
certificate fails validation is skipped for the next one (failover); only when every URI
fails does the method report an error (event 20022) and the chain move on. An answer from a
reachable server is final: wrong password means reject; a search finding nobody means pass.
Empty passwords are refused before any bind (an empty simple bind is anonymous in LDAP).
Referrals are not followed, so the password never travels to a server that was not configured.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from appliance.config import Config, Section
from appliance.runtime.aaa.decision import AccountSpec, Decision, MethodError
from appliance.runtime.aaa.identity import Credentials

INVALID_CREDENTIALS = 49
USER, DN = "${USER}", "${DN}"


@dataclass(frozen=True)
class _Entry:
    dn: str
    attributes: dict


class LDAPMethod:
    def __init__(self, section: Section, config: Config) -> None:
        self.id = section.id
        self.section = section
        self.options = section.options
        self.config = config

    # -- connections ------------------------------------------------------
    def _tls(self) -> ldap3.Tls:
        ca = self.section.path("ca_certificate")
        validate = self.options.get("validate_certificate", True)
        return ldap3.Tls(
            validate=ssl.CERT_REQUIRED if validate else ssl.CERT_NONE,
            version=ssl.PROTOCOL_TLS_CLIENT,
            ca_certs_file=str(ca) if ca else None,
        )

    def _server(self, uri: str) -> ldap3.Server:
        return ldap3.Server(
            uri,
            use_ssl=uri.lower().startswith("ldaps://"),
            tls=self._tls(),
            get_info=ldap3.NONE,
            connect_timeout=self.options.get("timeout", 5),
        )

    def _connect(self, server: ldap3.Server, user: str | None, password: str | None):
        """An open (and StartTLS-secured when configured) connection, not yet bound."""
        connection = ldap3.Connection(
            server,
            user=user,
            password=password,
            auto_bind=ldap3.AUTO_BIND_NONE,
            auto_referrals=False,
            read_only=True,
            receive_timeout=self.options.get("timeout", 5),
            raise_exceptions=False,
        )
        connection.open()
        if self.options.get("start_tls") and not server.ssl and not connection.start_tls():
            connection.unbind()
            raise MethodError(f"StartTLS refused: {connection.result}")
        return connection

    @staticmethod
    def _bind(connection) -> bool:
        if connection.bind():
            return True
        if connection.result.get("result") != INVALID_CREDENTIALS:
            raise MethodError(
                f"bind failed: {connection.result.get('description')} "
                f"{connection.result.get('message') or ''}".strip()
            )
        return False

    # -- the method -------------------------------------------------------
    def authenticate(self, credentials: Credentials) -> Decision:
        if credentials.kind != "password":
            return Decision.passed("LDAP checks passwords only")
        if not credentials.password:
            return Decision.reject("an empty password is never sent to LDAP")
        return self._with_failover(lambda server: self._on_server(server, credentials))

    def _with_failover(self, ask: Callable[[ldap3.Server], Decision]) -> Decision:
        """The answer of the first server of `url` that answers (failover in order)."""
        errors: list[str] = []
        for uri in self.options["url"]:
            try:
                return ask(self._server(uri))
            except (LDAPException, MethodError, OSError, ssl.SSLError) as error:
                errors.append(f"{uri}: {_describe(error)}")
        raise MethodError("no LDAP server answered: " + "; ".join(errors))

    def lookup(self, username: str) -> Decision:
        """The account as the directory describes it now, found with the service account.

        Only for search-then-bind: with a bind DN template alone, nothing may read the entry
        without the user's password, so the method passes.
        """
        if not (self.options.get("search_base") and self.options.get("service_bind_dn")):
            return Decision.passed("LDAP without a service account cannot look accounts up")
        return self._with_failover(lambda server: self._look_up_on(server, username))

    def _look_up_on(self, server: ldap3.Server, username: str) -> Decision:
        service = self._connect(server, self.options["service_bind_dn"], self._service_password())
        try:
            if not self._bind(service):
                raise MethodError("the service account could not bind (check its password file)")
            entries = self._search_user(service, username)
            if len(entries) != 1:
                return Decision.passed(f"{len(entries)} LDAP entries match {username!r}")
            credentials = Credentials(username, "-", "-", "")
            return self._accept(credentials, entries[0], service)
        finally:
            service.unbind()

    def _search_user(self, service, username: str) -> list[_Entry]:
        search_filter = self.options["search_filter"].replace(USER, escape_filter_chars(username))
        service.search(
            self.options["search_base"],
            search_filter,
            search_scope=ldap3.SUBTREE,
            attributes=self._attributes(),
            size_limit=2,
        )
        return [_Entry(e.entry_dn, e.entry_attributes_as_dict) for e in service.entries]

    def _on_server(self, server: ldap3.Server, credentials: Credentials) -> Decision:
        if self.options.get("search_base") and self.options.get("service_bind_dn"):
            return self._search_then_bind(server, credentials)
        template = self.options.get("bind_dn_template")
        if not template:
            raise MethodError("neither bind_dn_template nor search_base with service_bind_dn")
        user_dn = template.replace(USER, escape_rdn(credentials.username))
        connection = self._connect(server, user_dn, credentials.password)
        try:
            if not self._bind(connection):
                return Decision.reject(f"LDAP refused the password for {user_dn}")
            entry = self._read_entry(connection, user_dn)
            return self._accept(credentials, entry, connection)
        finally:
            connection.unbind()

    def _service_password(self) -> str:
        path = self.section.path("service_password_file")
        if path is None:
            raise MethodError("service_bind_dn needs service_password_file")
        return path.read_text(encoding="utf-8").rstrip("\r\n")

    def _search_then_bind(self, server: ldap3.Server, credentials: Credentials) -> Decision:
        service = self._connect(server, self.options["service_bind_dn"], self._service_password())
        try:
            if not self._bind(service):
                raise MethodError("the service account could not bind (check its password file)")
            entries = self._search_user(service, credentials.username)
            if not entries:
                return Decision.passed(f"no LDAP entry matches {credentials.username!r}")
            if len(entries) > 1:
                return Decision.reject(f"several LDAP entries match {credentials.username!r}")
            user = self._connect(server, entries[0].dn, credentials.password)
            try:
                if not self._bind(user):
                    return Decision.reject(f"LDAP refused the password for {entries[0].dn}")
            finally:
                user.unbind()
            return self._accept(credentials, entries[0], service)
        finally:
            service.unbind()

    def _attributes(self) -> list[str]:
        return [
            name
            for name in (
                self.options.get("group_attribute"),
                self.options.get("home_folder_attribute"),
            )
            if name
        ]

    def _read_entry(self, connection, dn: str) -> _Entry:
        attributes = self._attributes()
        if not attributes:
            return _Entry(dn, {})
        connection.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=attributes)
        if not connection.entries:
            return _Entry(dn, {})
        return _Entry(dn, connection.entries[0].entry_attributes_as_dict)

    # -- groups and home folder ------------------------------------------------
    def _ldap_groups(self, entry: _Entry, credentials: Credentials, connection) -> list[str]:
        names: list[str] = []
        attribute = self.options.get("group_attribute")
        if attribute:
            names.extend(str(value) for value in entry.attributes.get(attribute, []))
        base, template = (
            self.options.get("group_search_base"),
            self.options.get("group_search_filter"),
        )
        if base and template:
            group_filter = template.replace(DN, escape_filter_chars(entry.dn)).replace(
                USER, escape_filter_chars(credentials.username)
            )
            connection.search(base, group_filter, search_scope=ldap3.SUBTREE, attributes=["cn"])
            names.extend(group.entry_dn for group in connection.entries)
        return names

    def _map_groups(self, ldap_groups: list[str]) -> tuple[str, ...]:
        known = {_group_key(name) for name in ldap_groups} | {
            _common_name(name) for name in ldap_groups
        }
        mapped: list[str] = []
        for line in self.options.get("group_mapping") or []:
            ldap_name, _, group = line.rpartition(",")
            if _group_key(ldap_name) in known and group.strip() not in mapped:
                mapped.append(group.strip())
        if not mapped and self.options.get("default_group"):
            mapped.append(self.options["default_group"])
        return tuple(mapped)

    def _accept(self, credentials: Credentials, entry: _Entry, connection) -> Decision:
        groups = self._map_groups(self._ldap_groups(entry, credentials, connection))
        home = None
        attribute = self.options.get("home_folder_attribute")
        if attribute and entry.attributes.get(attribute):
            home = str(entry.attributes[attribute][0])
        home = home or self.options.get("home_folder_path")
        return Decision.accept(
            AccountSpec(name=credentials.username, groups=groups, home_folder_path=home),
            f"LDAP bind as {entry.dn} succeeded",
        )


def _group_key(name: str) -> str:
    return ",".join(part.strip() for part in name.strip().split(",")).casefold()


def _common_name(dn: str) -> str:
    """The first RDN's value of a DN ("admins" for cn=admins,ou=groups,...), or the name."""
    try:
        return parse_dn(dn)[0][1].casefold()
    except (LDAPException, IndexError, ValueError):
        return dn.strip().casefold()


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return " ".join(text.split())[:300]
