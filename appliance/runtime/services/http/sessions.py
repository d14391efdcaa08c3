"""Browser sessions as signed, expiring tokens: HMAC-SHA256 with a key kept in the data folder.

A token names the session, the account and the authentication method, and carries its own
expiry; any node holding the same key can verify it. The accepted Account is cached here
per session (this node logged it in); a token whose session is not cached, was logged out
or has expired is refused, and the browser is sent back to the login page.
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
from dataclasses import dataclass, field
from pathlib import Path

from appliance.runtime.aaa.identity import Account, Credentials

KEY_FILE = "http-session.key"
KEY_BYTES = 32
COOKIE_NAME = "appliance_session"


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
    """The sessions this service logged in, their tokens and their expiry (thread-safe)."""

    def __init__(self, signer: TokenSigner, timeout: int) -> None:
        self.signer = signer
        self.timeout = timeout
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(self, account: Account, credentials: Credentials) -> Session:
        session = Session(secrets.token_urlsafe(18), account, credentials)
        session.expires = time.time() + self.timeout
        with self._lock:
            self._sessions[session.id] = session
        return session

    def token(self, session: Session) -> str:
        return self.signer.sign(
            {"sid": session.id, "sub": session.account.name, "exp": int(session.expires)}
        )

    def find(self, token: str | None) -> Session | None:
        """The live session of a genuine, unexpired token; its expiry slides forward."""
        claims = self.signer.verify(token) if token else None
        if not claims or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            return None
        with self._lock:
            session = self._sessions.get(str(claims.get("sid")))
        if session is None or session.account.name != claims.get("sub"):
            return None
        if session.expires < time.time():
            return None
        session.expires = time.time() + self.timeout
        return session

    def close(self, session: Session) -> bool:
        """Forget the session; False when it was already gone."""
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
