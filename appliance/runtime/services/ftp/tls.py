"""pyOpenSSL contexts for FTPS, built from the one TLS policy in appliance.runtime.net.tls."""

from __future__ import annotations

from pathlib import Path

from OpenSSL import SSL, crypto
from OpenSSL._util import lib as _openssl

from appliance.runtime.net.tls import TLS12_CIPHERS

SESSION_ID_CONTEXT = b"appliance-ftps"


def ftps_context(pem: Path, *, client_ca: Path | None = None) -> SSL.Context:
    """TLS 1.2+ with the policy's ciphers; session reuse for data channels; optional client certs.

    With `client_ca`, a client certificate is asked for but not required: a verified one is
    handed to the AAA chain as a credential.
    """
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_cipher_list(TLS12_CIPHERS.encode())
    context.set_options(
        SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE | SSL.OP_NO_RENEGOTIATION
    )
    context.use_certificate_chain_file(str(pem))
    context.use_privatekey_file(str(pem))
    context.check_privatekey()
    context.set_session_id(SESSION_ID_CONTEXT)
    context.set_session_cache_mode(SSL.SESS_CACHE_SERVER)
    if client_ca is not None:
        context.load_verify_locations(str(client_ca))
        context.set_verify(SSL.VERIFY_PEER, _keep_openssl_verdict)
    return context


def _keep_openssl_verdict(connection, certificate, errno, depth, ok) -> bool:
    return bool(ok)


def negotiated(connection: SSL.Connection) -> dict:
    """Version, cipher and whether the session was resumed, for event 10035."""
    return {
        "version": connection.get_protocol_version_name(),
        "cipher": connection.get_cipher_name(),
        "session_reused": session_reused(connection),
    }


def session_reused(connection: SSL.Connection) -> bool:
    """Whether the handshake resumed a session (a data channel reusing the control's)."""
    reused = getattr(_openssl, "SSL_session_reused", None)
    return bool(reused(connection._ssl)) if reused is not None else False


def peer_certificate_der(connection: SSL.Connection) -> bytes | None:
    """DER of the client certificate OpenSSL verified against the CA, or None."""
    certificate = connection.get_peer_certificate()
    if certificate is None:
        return None
    return crypto.dump_certificate(crypto.FILETYPE_ASN1, certificate)
