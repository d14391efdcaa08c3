"""Pure pieces of the HTTP service: signed tokens, forwarded addresses, CSRF origins, ranges."""

from __future__ import annotations

import ipaddress
import time

import pytest

from appliance.runtime.services.http.peers import client_peer, forwarded_address
from appliance.runtime.services.http.security import refused_origin
from appliance.runtime.services.http.sessions import TokenSigner, load_or_create_key
from appliance.runtime.services.http.transfer import (
    ByteRange,
    RangeNotSatisfiable,
    byte_range,
    content_disposition,
)


def test_tokens_verify_and_refuse_tampering(tmp_path):
    key = load_or_create_key(tmp_path)
    assert load_or_create_key(tmp_path) == key, "the key is kept in the data folder"
    signer = TokenSigner(key)
    token = signer.sign({"sid": "s1", "sub": "alice", "exp": int(time.time()) + 60})
    assert signer.verify(token)["sub"] == "alice"
    payload, signature = token.split(".")
    assert signer.verify(payload + "." + signature[:-2] + "AA") is None
    assert signer.verify(payload[:-2] + "." + signature) is None
    assert TokenSigner(b"another key").verify(token) is None
    for junk in ("", ".", "a.b", "no-dot", "é.é"):
        assert signer.verify(junk) is None


def _scope(client: str, *headers: tuple[str, str]) -> dict:
    return {"client": (client, 5555), "headers": [(k.encode(), v.encode()) for k, v in headers]}


def test_forwarded_header_is_trusted_only_from_trusted_proxies():
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    header = ("x-forwarded-for", "1.1.1.1, 203.0.113.7")
    assert client_peer(_scope("10.1.2.3", header), "x-forwarded-for", proxies).address == (
        "203.0.113.7"
    )
    spoofed = client_peer(_scope("192.0.2.9", header), "x-forwarded-for", proxies)
    assert (spoofed.address, spoofed.port) == ("192.0.2.9", 5555)
    no_setting = client_peer(_scope("10.1.2.3", header), None, proxies)
    assert no_setting.address == "10.1.2.3"
    assert forwarded_address("forwarded", 'for=192.0.2.1, for="[2001:db8::1]:4711"') == (
        "2001:db8::1"
    )
    assert forwarded_address("x-forwarded-for", "not-an-address") is None


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("POST", [("host", "files:8443"), ("origin", "https://files:8443")], None),
        ("POST", [("host", "files:8443"), ("origin", "https://evil.example")], "x"),
        ("POST", [("host", "files:8443"), ("origin", "null")], "x"),
        ("POST", [("host", "files:8443"), ("referer", "https://files:8443/files/")], None),
        ("POST", [("host", "files:8443"), ("referer", "https://evil.example/a")], "x"),
        ("POST", [("host", "files:8443"), ("origin", "http://files:8443")], "x"),
        ("POST", [("host", "files:8443"), ("origin", "https://portal.example")], None),
        ("POST", [("host", "files:8443")], None),
    ],
)
def test_csrf_origin_check(method, headers, refused):
    scope = {"method": method, "headers": [(k.encode(), v.encode()) for k, v in headers]}
    answer = refused_origin(scope, "https", frozenset({"https://portal.example"}))
    assert (answer is not None) == bool(refused)


def test_byte_ranges():
    assert byte_range(None, 10) == ByteRange(0, 10, False)
    assert byte_range("bytes=2-5", 10) == ByteRange(2, 4, True)
    assert byte_range("bytes=7-", 10) == ByteRange(7, 3, True)
    assert byte_range("bytes=-3", 10) == ByteRange(7, 3, True)
    assert byte_range("bytes=0-99", 10) == ByteRange(0, 10, True)
    assert byte_range("bytes=0-1,4-5", 10) == ByteRange(0, 10, False)
    with pytest.raises(RangeNotSatisfiable):
        byte_range("bytes=10-", 10)


def test_content_disposition_is_an_attachment_with_a_safe_name():
    value = content_disposition('ré"port\r\n.html')
    assert value.startswith('attachment; filename="r__port__.html"; ')
    assert "\r" not in value and "\n" not in value
    assert "filename*=UTF-8''r%C3%A9%22port%0D%0A.html" in value


def test_sessions_expire_and_close(tmp_path):
    from appliance.runtime.services.http.sessions import Sessions

    sessions = Sessions(TokenSigner(b"k" * 32), timeout=60)
    account = type("Account", (), {"name": "alice", "method": "local"})()
    session = sessions.open(account, credentials=None)
    token = sessions.token(session)
    assert sessions.find(token) is session
    session.expires = time.time() - 1
    assert sessions.find(token) is None
    assert sessions.expired() == [session]
    again = sessions.open(account, credentials=None)
    assert sessions.close(again) and sessions.find(sessions.token(again)) is None
