"""Browser sessions as signed, expiring tokens: HMAC-SHA256 with a key kept in the data folder.

A token names the session, the account and the authentication method, and carries its own
expiry; any node holding the same key can verify it. The accepted Account is cached here
per session. A genuine token whose session this node does not hold (another node behind the
same load balancer logged it in) is `adopt`ed: AAA rebuilds the account from the method
named in the token, without a credential (see AAA.account_for). A token that was logged out
(here, or on any node sharing the state store) or has expired is refused, and the browser
is sent back to the login page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from appliance.runtime.aaa.identity import Account, Credentials
from appliance.runtime.shared.state import LocalState, SharedState

KEY_FILE = "http-session.key"
KEY_BYTES = 32
COOKIE_NAME = "appliance_session"


MIN_KEY_BYTES = 32


def read_key(path: Path) -> bytes:
    """A signing key shared by the nodes behind one balancer ([server] http_session_key)."""
    key = Path(path).read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"http_session_key {path} holds {len(key)} bytes; expected at least {MIN_KEY_BYTES} "
            "random bytes (for example: openssl rand -base64 48)"
        )
    return key


def load_or_create_key(data_folder: Path) -> bytes:
    """The signing key of the data folder, created (readable by the owner only) when missing."""
    path = Path(data_folder) / KEY_FILE
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(key)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Signs and verifies `payload.signature` tokens; verification is constant-time."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def sign(self, claims: dict) -> str:
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._signature(payload)}"

    def verify(self, token: str) -> dict | None:
        """The claims of a genuine token, or None for anything forged or malformed."""
        payload, _, signature = token.partition(".")
        if not payload or not signature:
            return None
        try:
            expected = self._signature(payload)
            if not hmac.compare_digest(expected, signature):
                return None
            claims = json.loads(_unb64(payload))
        except (ValueError, UnicodeError):
            return None
        return claims if isinstance(claims, dict) else None


@dataclass
class Session:
    id: str
    account: Account
    credentials: Credentials
    started: float = field(default_factory=time.monotonic)
    expires: float = 0.0


class Sessions:
    """The sessions this node serves, their tokens and their expiry (thread-safe)."""

    def __init__(
        self,
        signer: TokenSigner,
        timeout: int,
        shared: Callable[[], SharedState | None] = lambda: None,
    ) -> None:
        self.signer = signer
        self.timeout = timeout
        local = LocalState()  # ended sessions, when no store is shared
        self._shared = lambda: shared() or local
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(self, account: Account, credentials: Credentials) -> Session:
        return self.adopt(secrets.token_urlsafe(18), account, credentials)

    def adopt(self, session_id: str, account: Account, credentials: Credentials) -> Session:
        """Serve a session: a new one, or one another node opened (same id, same token)."""
        session = Session(session_id, account, credentials)
        session.expires = time.time() + self.timeout
        with self._lock:
            self._sessions[session.id] = session
        return session

    def token(self, session: Session) -> str:
        return self.signer.sign(
            {
                "sid": session.id,
                "sub": session.account.name,
                "mth": session.account.method,
                "exp": int(session.expires),
            }
        )

    def claims(self, token: str | None) -> dict | None:
        """The claims of a genuine, unexpired token that was not logged out, else None."""
        claims = self.signer.verify(token) if token else None
        if not claims or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            return None
        if not all(isinstance(claims.get(name), str) for name in ("sid", "sub", "mth")):
            return None
        if self._shared().session_ended(claims["sid"]):
            return None
        return claims

    def find(self, token: str | None) -> Session | None:
        """The live session of a genuine, unexpired token; its expiry slides forward."""
        claims = self.claims(token)
        if claims is None:
            return None
        with self._lock:
            session = self._sessions.get(claims["sid"])
        if session is None or session.account.name != claims["sub"]:
            return None
        if session.expires < time.time():
            return None
        session.expires = time.time() + self.timeout
        return session

    def end(self, session: Session) -> bool:
        """Log the session out on every node sharing the state; False if already gone here."""
        # No token of the session, from any node, outlives now + timeout.
        until = datetime.fromtimestamp(time.time() + self.timeout, UTC)
        self._shared().end_session(session.id, until)
        return self.close(session)

    def close(self, session: Session) -> bool:
        """Forget the session on this node; False when it was already gone."""
        with self._lock:
            return self._sessions.pop(session.id, None) is not None

    def all(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def expired(self) -> list[Session]:
        """Remove and return the sessions whose time ran out."""
        now = time.time()
        with self._lock:
            gone = [s for s in self._sessions.values() if s.expires < now]
            for session in gone:
                del self._sessions[session.id]
        return gone
