"""The AAA side of a session: credentials for the chain, and pyftpdlib's authorizer interface.

pyftpdlib asks its authorizer for permissions before each command; here every answer is
"yes", because the VirtualFS asks the account's permissions on every operation (deny by
default, one rule set for every protocol). Authentication is AAA.authenticate, called from a
worker thread by the session (see handler.py), never pyftpdlib's validate_authentication.
"""

from __future__ import annotations

from pyftpdlib.authorizers import AuthenticationFailed

from appliance.runtime.aaa.identity import Credentials

ALL_PERMISSIONS = "elradfmwMT"


def credentials(
    session, username: str, *, password: str | None = None, certificate: bytes | None = None
) -> Credentials:
    """What the session knows about the client, in the protocol-neutral form."""
    return Credentials(
        username=username,
        protocol="ftps" if session.control_secured else "ftp",
        service_id=session.settings.service_id,
        peer_address=session.peer_address,
        peer_port=session.peer_port,
        password=password,
        certificate=certificate,
    )


class DelegatingAuthorizer:
    """pyftpdlib's authorizer interface with every decision left to AAA and the VirtualFS."""

    def validate_authentication(self, username: str, password: str, handler) -> None:
        raise AuthenticationFailed("authentication goes through the AAA chain")

    def has_user(self, username: str) -> bool:
        return False

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        return True

    def get_perms(self, username: str) -> str:
        return ALL_PERMISSIONS

    def get_home_dir(self, username: str) -> str:
        return "/"

    def get_msg_login(self, username: str) -> str:
        return f"Logged in as {username}."

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."

    def impersonate_user(self, username: str, password: str) -> None:
        pass

    def terminate_impersonation(self, username: str) -> None:
        pass
