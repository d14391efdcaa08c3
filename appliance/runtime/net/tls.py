"""TLS policy of every TLS listener (FTPS, HTTPS): TLS 1.2+, forward-secret AEAD ciphers only."""

from __future__ import annotations

import ssl
from pathlib import Path

# TLS 1.2 suites (TLS 1.3 suites are all acceptable and managed by OpenSSL itself).
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)


def server_context(
    pem: Path,
    *,
    client_ca: Path | None = None,
    require_client_certificate: bool = False,
) -> ssl.SSLContext:
    """An ssl.SSLContext for a listener: key and chain from one PEM, optional client certs."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(str(pem))
    if client_ca:
        context.load_verify_locations(cafile=str(client_ca))
        context.verify_mode = ssl.CERT_REQUIRED if require_client_certificate else ssl.CERT_OPTIONAL
    return context
