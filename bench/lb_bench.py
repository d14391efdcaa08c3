"""Active-active through HAProxy: throughput via the balancer against straight to one node, and
what happens to a transfer in flight when its node dies (SIGKILL) or stops (SIGTERM).

Everything on loopback: node A on 127.0.0.11, node B on 127.0.0.12 (same ports, one shared
files folder), HAProxy on 127.0.0.2 with the appliance_lb role's template (PROXY v2 to the
nodes), the client on 127.0.0.5. Prints MB/s and the ratio balancer/direct for HTTPS and
FTP downloads (curl), then the in-flight outcomes. Run: python bench/lb_bench.py [--size MiB]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import audit_events, wait_for  # noqa: E402
from tests.lb_support import write_checked  # noqa: E402
from tests.running import RunningAppliance  # noqa: E402

NODES = {"node-a": "127.0.0.11", "node-b": "127.0.0.12"}
BALANCER, CLIENT = "127.0.0.2", "127.0.0.5"
PASSWORD = "bench-pw"
SERVICES = """\
[services/https]
type = https
address = {address}
port = {{port}}

[services/ftp]
type = ftp
address = {address}
port = {{port}}
passive_port_range = {passive}
passive_address = {balancer}
"""
PASSIVE = {"node-a": "31500-31519", "node-b": "31520-31539"}


def curl(url: str, output: Path, *extra: str) -> tuple[int, float, int]:
    """(exit code, seconds, bytes received)."""
    started = time.monotonic()
    done = subprocess.run(
        ["curl", "-s", "-k", "--interface", CLIENT, "-o", str(output), *extra, url],
        capture_output=True,
        check=False,
    )
    size = output.stat().st_size if output.exists() else 0
    return done.returncode, time.monotonic() - started, size


def start_nodes(root: Path, ports: dict[str, int]) -> dict[str, RunningAppliance]:
    nodes = {}
    shared = root / "shared-files"
    shared.mkdir(parents=True, exist_ok=True)
    for name, address in NODES.items():
        app = RunningAppliance(
            root / name,
            SERVICES.format(address=address, passive=PASSIVE[name], balancer=BALANCER),
            accounts={"alice": PASSWORD},
            server_options=f"name = {name}\ntrusted_proxies = 127.0.0.1/32",
        )
        app.ports.update(ports)
        app.root.mkdir(parents=True, exist_ok=True)
        (app.root / "files").symlink_to(shared)
        nodes[name] = app.start()
    return nodes


def start_balancer(root: Path, ports: dict[str, int]) -> subprocess.Popen:
    config = write_checked(
        root / "haproxy.cfg",
        {
            "appliance_lb_services": {
                "https": {"type": "https", "port": ports["https"]},
                "ftp": {"type": "ftp", "port": ports["ftp"]},
            },
            "appliance_lb_nodes": [
                {"name": n, "address": a, "passive_port_ranges": {"ftp": PASSIVE[n]}}
                for n, a in NODES.items()
            ],
            "appliance_lb_addresses": ["127.0.0.1"],
            "appliance_lb_bind_address": BALANCER,
            "appliance_lb_balance": "roundrobin",
            "appliance_lb_check_interval": 1,
            "appliance_lb_log_target": "127.0.0.1:514",
            "appliance_lb_stats_socket": "",
        },
    )
    return subprocess.Popen(
        ["haproxy", "-db", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def throughput(ports: dict[str, int], out: Path, size: int) -> None:
    rows = []
    for protocol in ("https", "ftp"):
        speeds = {}
        for where, host in (("direct", NODES["node-a"]), ("balancer", BALANCER)):
            url = (
                f"https://alice:{PASSWORD}@{host}:{ports['https']}/api/files/big.bin"
                if protocol == "https"
                else f"ftp://alice:{PASSWORD}@{host}:{ports['ftp']}/big.bin"
            )
            best = 0.0
            for _ in range(3):
                code, seconds, got = curl(url, out)
                assert code == 0 and got == size, (protocol, where, code, got)
                best = max(best, got / seconds / 1e6)
            speeds[where] = best
        rows.append((protocol, speeds["direct"], speeds["balancer"]))
    print(f"\n{'download':10} {'direct MB/s':>12} {'balancer MB/s':>14} {'ratio':>6}")
    for protocol, direct, balanced in rows:
        print(f"{protocol:10} {direct:12.0f} {balanced:14.0f} {balanced / direct:6.2f}")


def serving_node(nodes: dict[str, RunningAppliance], event_id: int, seen: set) -> str | None:
    for name, app in nodes.items():
        for event in audit_events(app.database, event_id):
            if event["uuid"] not in seen:
                seen.add(event["uuid"])
                return name
    return None


def in_flight(root: Path, ports: dict[str, int], out: Path, digest: str, sig: int) -> None:
    """A rate-limited download through the balancer; its node gets `sig` after 2 s."""
    nodes = start_nodes(root / f"run-{sig}", ports)
    balancer = start_balancer(root / f"run-{sig}", ports)
    try:
        time.sleep(3)  # health checks up
        for protocol, event_id in (("https", 40007), ("ftp", 20137)):
            seen: set = set()
            for app in nodes.values():
                seen |= {e["uuid"] for e in audit_events(app.database, event_id)}
            url = (
                f"https://alice:{PASSWORD}@{BALANCER}:{ports['https']}/api/files/big.bin"
                if protocol == "https"
                else f"ftp://alice:{PASSWORD}@{BALANCER}:{ports['ftp']}/big.bin"
            )
            out.unlink(missing_ok=True)
            transfer = subprocess.Popen(
                [
                    "curl",
                    "-s",
                    "-k",
                    "--interface",
                    CLIENT,
                    "--limit-rate",
                    "20M",
                    "-o",
                    str(out),
                    url,
                ]
            )
            victim = wait_for(
                lambda seen=seen, event_id=event_id: serving_node(nodes, event_id, seen),
                timeout=20,
            )
            time.sleep(2)
            started = time.monotonic()
            nodes[victim].process.send_signal(sig)
            code = transfer.wait(120)
            reaction = time.monotonic() - started
            got = out.stat().st_size if out.exists() else 0
            nodes[victim].process.wait(60)
            resumed, _, total = curl(url, out, "-C", "-")
            same = hashlib.sha256(out.read_bytes()).hexdigest() == digest
            print(
                f"{protocol:6} {signal.Signals(sig).name:8} on {victim}: curl exit {code} after "
                f"{reaction:.1f} s with {got / 2**20:.0f} MiB; resume (-C -) through the "
                f"balancer: exit {resumed}, {total / 2**20:.0f} MiB, identical: {same}"
            )
            nodes[victim].start()  # back for the next protocol
            time.sleep(3)
    finally:
        balancer.terminate()
        balancer.wait()
        for app in nodes.values():
            app.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="MiB of the test file")
    args = parser.parse_args()
    if not shutil.which("haproxy") or not shutil.which("curl"):
        print("needs haproxy and curl (scripts/apt-packages.txt)", file=sys.stderr)
        return 1
    from tests.helpers import free_port

    root = Path(tempfile.mkdtemp(prefix="lb-bench-"))
    ports = {"https": free_port(), "ftp": free_port()}
    out = root / "download.bin"
    try:
        nodes = start_nodes(root / "throughput", ports)
        big = root / "throughput" / "shared-files" / "alice" / "big.bin"
        big.parent.mkdir(parents=True, exist_ok=True)
        with big.open("wb") as stream:
            for _ in range(args.size):
                stream.write(hashlib.sha256(stream.name.encode()).digest() * 32768)
        digest = hashlib.sha256(big.read_bytes()).hexdigest()
        balancer = start_balancer(root / "throughput", ports)
        time.sleep(3)
        try:
            throughput(ports, out, big.stat().st_size)
        finally:
            balancer.terminate()
            balancer.wait()
            for app in nodes.values():
                app.stop()
        print("\nin flight (20 MB/s download through the balancer, its node signalled after 2 s):")
        for sig in (signal.SIGKILL, signal.SIGTERM):
            run_root = root / f"run-{sig}"
            (run_root / "shared-files" / "alice").mkdir(parents=True)
            shutil.copy(big, run_root / "shared-files" / "alice" / "big.bin")
            in_flight(root, ports, out, digest, sig)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
