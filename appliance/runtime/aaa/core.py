"""The AAA core every service calls: ban check, the authentication chain, login events.

`AAA.authenticate` is blocking (LDAP and HTTP methods do network I/O): services call it from
a thread. It reads `context.config` on every call, so a reload applies to the next login.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from appliance.config import Config, Section
from appliance.runtime.aaa.accounts import (
    AccountError,
    address_allowed,
    allowed_networks,
    build_account,
)
from appliance.runtime.aaa.bans import Bans, BanSettings, account_subject, address_subject
from appliance.runtime.aaa.decision import ACCEPT, PASS, Decision, MethodError
from appliance.runtime.aaa.identity import Account, AuthResult, Credentials
from appliance.runtime.aaa.methods import IMPLICIT_APPLICATION, build_method
from appliance.runtime.aaa.passwords import checks_in_this_thread, spend_a_check
from appliance.runtime.context import RuntimeContext
from appliance.runtime.events.event import format_peer

log = logging.getLogger(__name__)
COMPONENT = "aaa"
MAX_USERNAME = 256
_BAD_USERNAME = re.compile(r"[\x00-\x1f\x7f]")


class AAA:
    def __init__(self, context: RuntimeContext) -> None:
        self.context = context
        self.bans = Bans(self._emit_ban, store=lambda: context.shared_state)

    # -- helpers --------------------------------------------------------------
    @property
    def config(self) -> Config:
        return self.context.config

    def _ban_settings(self) -> BanSettings:
        return BanSettings.from_server(self.config.server.options)

    def _emit_ban(self, event_id: int, **data: object) -> None:
        self.context.bus.emit(event_id, COMPONENT, **data)

    def chain_ids(self, service_id: str) -> list[str]:
        """The service's own chain, else [server] authentications, else the implicit one."""
        service = self.config.services.get(service_id)
        chain = service.options.get("authentications") if service is not None else None
        return list(chain or self.config.server.options.get("authentications") or []) or [
            IMPLICIT_APPLICATION
        ]

    # -- the interface --------------------------------------------------------
    def connection_allowed(self, peer_address: str, component: str) -> bool:
        """False (and event 20023) when the address is banned; call it on connect."""
        until = self.bans.banned_until(address_subject(peer_address), self._ban_settings())
        if until is None:
            return True
        self.context.bus.emit(
            20023, component, peer=peer_address, until=until.isoformat(timespec="seconds")
        )
        return False

    def authenticate(self, credentials: Credentials, chain: list[str] | None = None) -> AuthResult:
        """Run the chain; emits 20137 or 20021 and counts failures for bans."""
        config = self.config
        settings = BanSettings.from_server(config.server.options)
        if not self.connection_allowed(credentials.peer_address, credentials.component):
            return self._failed(credentials, None, "the address is banned", count=False)
        username = credentials.username
        if self.bans.banned_until(
            account_subject(username), settings
        ) is not None and not self.bans.allowlisted(credentials.peer_address, settings):
            return self._failed(credentials, None, "the account is temporarily banned", count=False)
        if len(username) > MAX_USERNAME or _BAD_USERNAME.search(username):
            return self._failed(credentials, None, "the username is not acceptable")
        checks_before = checks_in_this_thread()
        if credentials.kind == "certificate" and credentials.password is not None:
            # FTPS: a verified client certificate and a password arrive together. The
            # certificate is tried first; when no method accepts it, the password is judged
            # as if no certificate had been shown (a CA-signed certificate that maps to no
            # account must not lock its holder out of password logins).
            method_id, decision, _ = self._first_decision(credentials, chain)
            if decision is not None and decision.verdict == ACCEPT:
                return self._accepted(credentials, method_id, decision, config)
            credentials = dataclasses.replace(credentials, certificate=None)
        method_id, decision, reasons = self._first_decision(credentials, chain)
        if decision is not None and decision.verdict == ACCEPT:
            return self._accepted(credentials, method_id, decision, config)
        self._equalize_timing(credentials, checks_before)
        if decision is not None:
            return self._failed(credentials, method_id, decision.reason)
        return self._failed(
            credentials, None, "no authentication method accepted (" + "; ".join(reasons) + ")"
        )

    def _first_decision(
        self, credentials: Credentials, chain: list[str] | None
    ) -> tuple[str | None, Decision | None, list[str]]:
        """The first method of the chain that accepts or rejects, and why the others passed."""
        reasons: list[str] = []
        for method_id in chain or self.chain_ids(credentials.service_id):
            section = self.config.authentications.get(method_id)
            if section is not None and not section.enabled:
                continue
            decision = self._ask(method_id, section, self.config, credentials)
            if decision.verdict != PASS:
                return method_id, decision, reasons
            reasons.append(f"{method_id}: {decision.reason}")
        return None, None, reasons

    @staticmethod
    def _equalize_timing(credentials: Credentials, checks_before: int) -> None:
        """A failed password login that checked no local hash (unknown name, or a directory's
        quick refusal) spends one check's work: failures all cost the same, whichever method
        knew the name. Successful logins pay only for the method that accepted them."""
        if credentials.kind == "password" and checks_in_this_thread() == checks_before:
            spend_a_check(credentials.password or "")

    def account_for(self, credentials: Credentials, method_id: str) -> Account | None:
        """The account `credentials.username` as `method_id` describes it now, without checking
        a credential: for a session another node authenticated (its signed token names the
        account and the method). Only methods that can look an account up answer (application
        accounts; LDAP with a service account); HTTP API methods, which only judge credentials,
        and unknown or disabled methods give None, and the client logs in again. The ban and
        source-address rules of a login apply; no login event is emitted (no login happened).
        """
        config = self.config
        settings = BanSettings.from_server(config.server.options)
        if not self.connection_allowed(credentials.peer_address, credentials.component):
            return None
        if self.bans.banned_until(account_subject(credentials.username), settings) is not None:
            return None
        section = config.authentications.get(method_id)
        if section is None and method_id != IMPLICIT_APPLICATION:
            return None
        if section is not None and not section.enabled:
            return None
        method = build_method(section, config)
        lookup = getattr(method, "lookup", None)
        if lookup is None:
            return None
        try:
            decision = lookup(credentials.username)
        except MethodError as error:
            log.warning("looking up %s with %s failed: %s", credentials.username, method_id, error)
            return None
        if decision.verdict != ACCEPT or decision.account is None:
            return None
        if not address_allowed(
            allowed_networks(config, decision.account), credentials.peer_address
        ):
            return None
        try:
            return build_account(config, decision.account, method_id)
        except AccountError:
            return None

    def logout(self, account: Account, credentials: Credentials, duration: float) -> None:
        self.context.bus.emit(
            20027,
            credentials.component,
            account=account.name,
            peer=self._peer(credentials),
            protocol=credentials.protocol,
            duration=round(duration, 3),
        )

    # -- the steps ------------------------------------------------------------
    @staticmethod
    def _peer(credentials: Credentials) -> str:
        return format_peer(credentials.peer_address, credentials.peer_port)

    def _ask(
        self, method_id: str, section: Section | None, config: Config, credentials: Credentials
    ) -> Decision:
        if section is None and method_id != IMPLICIT_APPLICATION:
            return Decision.passed("no such authentication section")
        try:
            return build_method(section, config).authenticate(credentials)
        except MethodError as error:
            message = str(error)
        except Exception as error:  # a broken method must not take the service down
            log.exception("authentication method %s failed", method_id)
            message = f"internal error: {type(error).__name__}: {error}"
        self.context.bus.emit(
            20022,
            credentials.component,
            peer=self._peer(credentials),
            method=method_id,
            error=message,
        )
        return Decision.passed(f"could not answer (event 20022): {message}")

    def _accepted(
        self, credentials: Credentials, method_id: str, decision: Decision, config: Config
    ) -> AuthResult:
        spec = decision.account
        networks = allowed_networks(config, spec)
        if not address_allowed(networks, credentials.peer_address):
            return self._failed(
                credentials, method_id, f"account {spec.name!r} may not log in from this address"
            )
        try:
            account = build_account(config, spec, method_id)
        except AccountError as error:
            return self._failed(credentials, method_id, str(error))
        self.bans.record_success(credentials.username)
        self.context.bus.emit(
            20137,
            credentials.component,
            account=account.name,
            peer=self._peer(credentials),
            method=method_id,
            protocol=credentials.protocol,
            credential=credentials.kind,
            home_folder=str(account.home_folder),
            groups=list(account.groups),
            permissions=account.permissions.effective(),
        )
        return AuthResult(True, account, method_id, decision.reason)

    def _failed(
        self, credentials: Credentials, method_id: str | None, reason: str, *, count: bool = True
    ) -> AuthResult:
        self.context.bus.emit(
            20021,
            credentials.component,
            peer=self._peer(credentials),
            username=credentials.username,
            method=method_id or "-",
            protocol=credentials.protocol,
            credential=credentials.kind,
            reason=reason,
        )
        if count:
            self.bans.record_failure(
                credentials.peer_address, credentials.username, self._ban_settings()
            )
        return AuthResult(False, None, method_id, reason)
