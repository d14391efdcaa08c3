"""The dmz_firewall ruleset: rendered from the lab inventory, accepted by `nft -c`, and, in
three network namespaces (internet, firewall forwarding, DMZ host), it lets each zone reach
exactly its services and the appliance reach only its peers. The host's ruleset is not touched."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.roles.conftest import REPO, need_root_netns, run, tool

# The firewall sits between 10.231.1.0/24 (outside: an internet and an internal address)
# and 10.231.2.0/24 (the DMZ host).
OUTSIDE_INTERNET, OUTSIDE_INTERNAL, FW_OUT = "10.231.1.2", "10.231.1.3", "10.231.1.1"
FW_DMZ, DMZ_HOST = "10.231.2.1", "10.231.2.2"

RENDER_PLAYBOOK = """\
- name: Render the DMZ ruleset for a gateway in front of the lab appliance
  hosts: appliance-active
  gather_facts: false
  connection: local
  tasks:
    - name: Check the variables of appliance (and load its defaults)
      ansible.builtin.import_role:
        name: appliance
        tasks_from: validate

    - name: Check the variables of appliance_ldap (and load its defaults)
      ansible.builtin.import_role:
        name: appliance_ldap
        tasks_from: validate

    - name: Check the variables of appliance_logging (and load its defaults)
      ansible.builtin.import_role:
        name: appliance_logging
        tasks_from: validate

    - name: Check the variables of dmz_firewall (and load its defaults)
      ansible.builtin.import_role:
        name: dmz_firewall
        tasks_from: validate

    - name: Render the ruleset
      ansible.builtin.template:
        src: "{{ render_test_template }}"
        dest: "{{ render_test_output }}"
        mode: "0600"
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""


def render(tmp_path, overrides: dict) -> str:
    playbook = tmp_path / "render.yml"
    playbook.write_text(RENDER_PLAYBOOK)
    output = tmp_path / "dmz.nft"
    extra = tmp_path / "extra.json"
    template = REPO / "roles" / "dmz_firewall" / "templates" / "appliance-dmz.nft.j2"
    extra.write_text(
        json.dumps(
            {
                "render_test_output": str(output),
                "render_test_template": str(template),
                **overrides,
            }
        )
    )
    result = run(
        [
            tool("ansible-playbook"),
            "-e",
            f"@{extra}",
            str(playbook),
        ]
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return output.read_text()


def test_lab_ruleset_passes_nft_check(tmp_path):
    if not shutil.which("nft") or not shutil.which("unshare"):
        pytest.skip("needs nft and unshare (scripts/apt-packages.txt)")
    text = render(tmp_path, {})
    assert "policy drop" in text and 'log prefix "dmz-drop' in text
    check = subprocess.run(
        ["unshare", "-rn", "nft", "-c", "-f", str(tmp_path / "dmz.nft")],
        capture_output=True,
        text=True,
        check=False,
    )
    if "Operation not permitted" in check.stderr and "unshare" in check.stderr:
        pytest.skip(f"user namespaces are not available here: {check.stderr.strip()}")
    assert check.returncode == 0, check.stderr + text


def test_transfer_locations_get_outbound_rules(tmp_path):
    """Each remote location of the transfers role is reachable on its port, and only that."""
    locations = {
        "partner-sftp": {"type": "sftp", "address": "192.0.2.10", "port": 2222},
        "partner-ftps": {"type": "ftps", "address": "2001:db8::7", "tls_mode": "implicit"},
        "outbox": {"type": "local", "path": "/srv/appliance/outbox"},
    }
    text = render(tmp_path, {"dmz_firewall_transfer_locations": locations})
    assert "# transfers location partner-sftp (sftp)" in text
    assert "ip daddr { 192.0.2.10 } tcp dport 2222 accept" in text
    assert "ip6 daddr { 2001:db8::7 } tcp dport 990 accept" in text
    assert "outbox" not in text


def test_a_transfer_location_named_by_host_name_is_refused(tmp_path):
    """nftables cannot follow a name: the inventory check says so before any host is touched."""
    from appliance.config.role_vars import validate_role_vars

    locations = {"partner": {"type": "sftp", "address": "sftp.partner.example"}}
    problems = validate_role_vars({"dmz_firewall_transfer_locations": locations}, ["dmz_firewall"])
    assert problems and "dmz_firewall_transfer_locations" in problems[0], problems


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


PROBE = """
import socket, sys
source, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(); s.settimeout(1.0); s.bind((source, 0))
try:
    s.connect((host, port)); print("open")
except OSError as error:
    print("blocked", error)
"""

LISTEN = """
import socket, sys, time
sockets = []
for port in map(int, sys.argv[1:]):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16); sockets.append(s)
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def namespaces():
    need_root_netns()
    tag = uuid.uuid4().hex[:6]
    names = {"out": f"dmz-out-{tag}", "fw": f"dmz-fw-{tag}", "dmz": f"dmz-host-{tag}"}
    try:
        for name in names.values():
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        sh(
            "ip",
            "link",
            "add",
            f"vo{tag}",
            "netns",
            names["out"],
            "type",
            "veth",
            "peer",
            "name",
            f"vf{tag}",
            "netns",
            names["fw"],
        )
        sh(
            "ip",
            "link",
            "add",
            f"vd{tag}",
            "netns",
            names["dmz"],
            "type",
            "veth",
            "peer",
            "name",
            f"vg{tag}",
            "netns",
            names["fw"],
        )
        for ns, dev, addresses in (
            (names["out"], f"vo{tag}", [OUTSIDE_INTERNET, OUTSIDE_INTERNAL]),
            (names["fw"], f"vf{tag}", [FW_OUT]),
            (names["fw"], f"vg{tag}", [FW_DMZ]),
            (names["dmz"], f"vd{tag}", [DMZ_HOST]),
        ):
            for address in addresses:
                sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", names["out"], "route", "add", "10.231.2.0/24", "via", FW_OUT)
        sh("ip", "-n", names["dmz"], "route", "add", "default", "via", FW_DMZ)
        sh("ip", "netns", "exec", names["fw"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield names
    finally:
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def probe(ns: str, source: str, host: str, port: int) -> bool:
    result = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", PROBE, source, host, str(port)],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return result.stdout.startswith("open")


def test_dmz_allows_service_ports_and_blocks_the_rest(tmp_path, namespaces):
    text = render(
        tmp_path,
        {
            "dmz_firewall_protected_addresses": [DMZ_HOST],
            "dmz_firewall_zones": {
                "internet": ["0.0.0.0/0"],
                "internal": [f"{OUTSIDE_INTERNAL}/32"],
            },
            "dmz_firewall_sync_peers": [],
            "appliance_ldap_urls": [f"ldap://{OUTSIDE_INTERNAL}:3389"],
            "appliance_logging_syslog_handlers": [
                {"id": "siem", "url": f"tcp://{OUTSIDE_INTERNAL}:5514"}
            ],
            "appliance_logging_smtp_enabled": False,
        },
    )
    sh("ip", "netns", "exec", namespaces["fw"], "nft", "-f", str(tmp_path / "dmz.nft"))
    # Listeners: every lab service port, an FTP passive port, admin SSH and an unlisted port.
    ports = [990, 2222, 443, 10022, 8443, 22, 60050, 9999]
    listener = subprocess.Popen(
        ["ip", "netns", "exec", namespaces["dmz"], sys.executable, "-c", LISTEN, *map(str, ports)],
        stdout=subprocess.PIPE,
        text=True,
    )
    outside_listener = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            namespaces["out"],
            sys.executable,
            "-c",
            LISTEN,
            "3389",
            "5514",
            "8080",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout.readline().startswith("ready")
        assert outside_listener.stdout.readline().startswith("ready")
        out, dmz = namespaces["out"], namespaces["dmz"]
        # The internet reaches only the public file services (and FTP's passive range).
        for port in (990, 2222, 443, 60050):
            assert probe(out, OUTSIDE_INTERNET, DMZ_HOST, port), f"internet -> {port} blocked"
        for port in (10022, 8443, 22, 9999):
            assert not probe(out, OUTSIDE_INTERNET, DMZ_HOST, port), f"internet -> {port} open"
        # The internal network reaches the internal services and administration.
        for port in (10022, 8443, 22):
            assert probe(out, OUTSIDE_INTERNAL, DMZ_HOST, port), f"internal -> {port} blocked"
        assert not probe(out, OUTSIDE_INTERNAL, DMZ_HOST, 9999)
        # The appliance reaches LDAP and syslog, nothing else.
        assert probe(dmz, DMZ_HOST, OUTSIDE_INTERNAL, 3389)
        assert probe(dmz, DMZ_HOST, OUTSIDE_INTERNAL, 5514)
        assert not probe(dmz, DMZ_HOST, OUTSIDE_INTERNAL, 8080)
        assert not probe(dmz, DMZ_HOST, OUTSIDE_INTERNET, 3389)
    finally:
        for process in (listener, outside_listener):
            process.kill()
            process.wait()
    assert "table inet appliance_dmz" in text


def test_behind_a_balancer_only_the_balancer_reaches_the_services(tmp_path, namespaces):
    """dmz_firewall_balancers: the service ports admit the balancer only, whatever the zones
    say; dmz_firewall_sync_peers: the appliance reaches its HA peer's sshd and service ports
    (promotion asks whether the peer still answers), and no other port of it."""
    balancer = peer = OUTSIDE_INTERNAL
    render(
        tmp_path,
        {
            "dmz_firewall_protected_addresses": [DMZ_HOST],
            "dmz_firewall_zones": {
                "internet": ["0.0.0.0/0"],
                "internal": [f"{OUTSIDE_INTERNAL}/32"],
            },
            "dmz_firewall_balancers": [balancer],
            "dmz_firewall_sync_peers": [peer],
            "appliance_ldap_urls": [f"ldap://{OUTSIDE_INTERNAL}:3389"],
            "appliance_logging_syslog_handlers": [],
            "appliance_logging_smtp_enabled": False,
        },
    )
    sh("ip", "netns", "exec", namespaces["fw"], "nft", "-f", str(tmp_path / "dmz.nft"))
    service_ports = [990, 2222, 443, 60050]
    listener = subprocess.Popen(
        ["ip", "netns", "exec", namespaces["dmz"], sys.executable, "-c", LISTEN,
         *map(str, service_ports)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    # The peer's sshd, one of its service ports, and a port the appliance has no business with.
    peer_listener = subprocess.Popen(
        ["ip", "netns", "exec", namespaces["out"], sys.executable, "-c", LISTEN,
         "22", "2222", "8080"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert listener.stdout.readline().startswith("ready")
        assert peer_listener.stdout.readline().startswith("ready")
        out, dmz = namespaces["out"], namespaces["dmz"]
        for port in service_ports:
            assert probe(out, balancer, DMZ_HOST, port), f"balancer -> {port} blocked"
            assert not probe(out, OUTSIDE_INTERNET, DMZ_HOST, port), f"internet -> {port} open"
        assert probe(dmz, DMZ_HOST, peer, 22), "the HA sync to the peer's sshd is blocked"
        assert probe(dmz, DMZ_HOST, peer, 2222), "the promotion check of the peer is blocked"
        assert not probe(dmz, DMZ_HOST, peer, 8080)
    finally:
        for process in (listener, peer_listener):
            process.kill()
            process.wait()
