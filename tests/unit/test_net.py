"""PROXY protocol v2 parsing and the TLS policy."""

from __future__ import annotations

import ssl

import pytest

from appliance.runtime.net import proxy_protocol as pp
from appliance.runtime.net.tls import server_context


@pytest.mark.parametrize(
    ("source", "destination"),
    [
        (("192.0.2.10", 40000), ("10.0.0.5", 22)),
        (("2001:db8::7", 50000), ("2001:db8::1", 2222)),
    ],
)
def test_proxy_header_round_trip(source, destination):
    header = pp.build(source, destination)
    parsed = pp.parse(header + b"SSH-2.0-client\r\n")
    assert (parsed.source, parsed.destination, parsed.length) == (source, destination, len(header))
    assert pp.needed_bytes(header[:16]) == len(header)


def test_local_command_keeps_the_connection_address():
    header = pp.SIGNATURE + bytes([0x20, 0x00, 0, 0])
    assert pp.parse(header) == pp.ProxyHeader(None, None, 16)


@pytest.mark.parametrize(
    "data",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n",
        pp.SIGNATURE + bytes([0x11, 0x11, 0, 12]) + bytes(12),  # version 1
        pp.SIGNATURE + bytes([0x21, 0x11, 0, 12]) + bytes(4),  # truncated
        pp.SIGNATURE + bytes([0x2F, 0x11, 0, 12]) + bytes(12),  # unknown command
        pp.SIGNATURE + bytes([0x21, 0x11, 0xFF, 0xFF]),  # too long
    ],
)
def test_garbage_is_refused(data):
    with pytest.raises(pp.ProxyProtocolError):
        pp.parse(data)


def test_trusted_proxies_match_networks_and_mapped_addresses():
    assert pp.is_trusted("10.1.2.3", ["10.0.0.0/8"])
    assert pp.is_trusted("::ffff:10.1.2.3", ["10.0.0.0/8"])
    assert not pp.is_trusted("192.0.2.1", ["10.0.0.0/8"])
    assert not pp.is_trusted("not-an-address", ["10.0.0.0/8"])


def test_tls_policy_refuses_tls11(key_material):
    context = server_context(key_material / "tls.pem")
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    names = {cipher["name"] for cipher in context.get_ciphers()}
    assert not any("CBC" in n or "SHA1" in n or n.endswith("-SHA") for n in names)
