"""No port of the demo (`appliance init`) is one that a browser refuses to open."""

from __future__ import annotations

from pathlib import Path

from appliance.config import load_config
from appliance.config.demo import DEMO_PORTS, DEMO_SUMMARY, init_demo

# Ports the browsers refuse (Chromium: ERR_UNSAFE_PORT; Firefox: "This address is restricted"):
# the union of Chromium's kRestrictedPorts (net/base/port_util.cc) and Firefox's default
# network.security.ports.banned list (gBadPortList in netwerk/base/nsIOService.cpp), which
# both follow the "bad port" list of the Fetch standard. Ports below 1024 are refused as well
# below: the demo runs unprivileged.
BROWSER_BLOCKED_PORTS = frozenset(
    {
        0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87,
        95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143,
        161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556,
        563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190,
        5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
    }
)  # fmt: skip


def _demo_ports(folder: Path) -> dict[str, int]:
    """Every port the demo listens on: each service's, and each port of its passive ranges."""
    ports = {}
    for name, service in load_config(folder).services.items():
        ports[name] = service["port"]
        if service.get("passive_port_range"):
            low, high = (int(end) for end in service["passive_port_range"].split("-"))
            ports.update({f"{name} passive {port}": port for port in range(low, high + 1)})
    return ports


def test_no_demo_port_is_blocked_by_a_browser_or_privileged(tmp_path: Path):
    init_demo(tmp_path / "demo")
    ports = _demo_ports(tmp_path / "demo")
    assert {name: ports[name] for name in DEMO_PORTS} == DEMO_PORTS
    assert any(" passive " in name for name in ports), "the passive ranges were read"
    blocked = {name: port for name, port in ports.items() if port in BROWSER_BLOCKED_PORTS}
    assert not blocked, f"browsers refuse these demo ports: {blocked}"
    privileged = {name: port for name, port in ports.items() if port < 1024}
    assert not privileged, f"the demo runs unprivileged: {privileged}"
    assert len(set(ports.values())) == len(ports), "two demo services share a port"


def test_the_printed_summary_names_the_demo_ports():
    for port in DEMO_PORTS.values():
        assert str(port) in DEMO_SUMMARY
