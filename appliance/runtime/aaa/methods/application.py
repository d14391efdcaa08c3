"""The `application` method: accounts defined in server.ini ([accounts/<id>]).

Passwords are checked against argon2id or scrypt hashes (constant time). An unknown name
passes to the next method at once; when no method accepts, the AAA chain spends the work
of one check (aaa/core.py), so timing does not tell which names exist. SSH public keys and
TLS client certificates of these accounts are checked here too (see public_keys.py and
client_certificates.py).
"""

from __future__ import annotations

from appliance.config import Config, Section
from appliance.runtime.aaa import client_certificates, public_keys
from appliance.runtime.aaa.decision import AccountSpec, Decision
from appliance.runtime.aaa.identity import Credentials
from appliance.runtime.aaa.passwords import verify_password


def account_spec(section: Section) -> AccountSpec:
    options = section.options
    return AccountSpec(
        name=section.id,
        groups=tuple(options.get("groups") or ()),
        home_folder_path=options.get("home_folder_path"),
        permissions=tuple(options["permissions"]) if options.get("permissions") else None,
        amend_write_name=options.get("amend_write_name"),
        source_addresses=tuple(options.get("source_addresses") or ()) or None,
    )


class ApplicationMethod:
    def __init__(self, method_id: str, config: Config) -> None:
        self.id = method_id
        self.config = config

    def authenticate(self, credentials: Credentials) -> Decision:
        if credentials.kind == "certificate":
            return self._certificate(credentials)
        section = self.config.accounts.get(credentials.username)
        if section is None:
            return Decision.passed(f"no account {credentials.username!r} in server.ini")
        if not section.enabled:
            return Decision.reject("the account is disabled")
        if credentials.kind == "publickey":
            return self._public_key(section, credentials)
        stored = section.options.get("password")
        if not stored:
            return Decision.reject("the account has no password; it logs in with a key")
        remember = self.config.server.options.get("password_cache_seconds", 0)
        if not credentials.password or not verify_password(
            stored, credentials.password, remember_seconds=remember
        ):
            return Decision.reject("wrong password")
        return Decision.accept(account_spec(section), "password accepted")

    def lookup(self, username: str) -> Decision:
        """The account as server.ini describes it now, without a credential."""
        section = self.config.accounts.get(username)
        if section is None:
            return Decision.passed(f"no account {username!r} in server.ini")
        if not section.enabled:
            return Decision.reject("the account is disabled")
        return Decision.accept(account_spec(section), "account found in server.ini")

    def _public_key(self, section: Section, credentials: Credentials) -> Decision:
        keys = public_keys.account_keys(section)
        if not keys:
            return Decision.reject("the account has no SSH public keys")
        if not public_keys.key_allowed(keys, credentials.public_key or b""):
            return Decision.reject("the SSH public key is not authorized for this account")
        return Decision.accept(account_spec(section), "public key accepted")

    def _certificate(self, credentials: Credentials) -> Decision:
        match = client_certificates.find_account(
            self.config.accounts.values(), credentials.certificate or b"", credentials.username
        )
        if match is None:
            return Decision.passed("no account matches the client certificate")
        if not match.enabled:
            return Decision.reject("the account is disabled")
        return Decision.accept(account_spec(match), "client certificate accepted")
