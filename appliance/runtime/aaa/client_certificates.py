"""TLS client certificates: which account a verified certificate logs in as.

The TLS layer verifies the chain against [server] tls_certificate_authority; here an
account is matched by the certificate's SHA-256 fingerprint or by its subject (RFC 4514).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from cryptography import x509

from appliance.config import Section


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _normal_fingerprint(text: str) -> str:
    return text.replace(":", "").strip().lower()


def _normal_subject(text: str) -> str:
    return ",".join(part.strip() for part in text.split(",")).casefold()


def subject(der: bytes) -> str | None:
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        return None


def matches(section: Section, der: bytes) -> bool:
    wanted = [
        _normal_fingerprint(f) for f in section.options.get("tls_certificate_fingerprints") or []
    ]
    actual = fingerprint(der)
    if any(hmac.compare_digest(actual, value) for value in wanted):
        return True
    configured = section.options.get("tls_certificate_subject")
    if configured:
        name = subject(der)
        return name is not None and _normal_subject(name) == _normal_subject(configured)
    return False


def find_account(accounts: Iterable[Section], der: bytes, username: str = "") -> Section | None:
    """The account the certificate belongs to; with a username, only that account is tried."""
    for section in accounts:
        if username and section.id != username:
            continue
        if matches(section, der):
            return section
    return None
