"""FTP and explicit FTPS throughput of the appliance against vsftpd, measured in the same run.

    python bench/ftp_bench.py [--size-mib 256] [--files 500]

Starts the appliance (tests/running.py) and vsftpd (anonymous, writable folder) on free
loopback ports, drives both with the same clients (curl for one large file, lftp mirror for
many small files) and prints seconds and the ratio vsftpd_time / appliance_time (above 1:
the appliance is faster). Needs vsftpd, curl and lftp; run it as root (vsftpd drops to the
`ftp` user for anonymous sessions).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.running import RunningAppliance  # noqa: E402
from tests.vsftpd_support import LoopbackVsftpd  # noqa: E402

PASSWORD = "bench"
SERVICES = """
[services/ftp]
type = ftp
address = 127.0.0.1
port = {port}
"""
LFTP_TLS = "set ssl:verify-certificate no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "
LFTP_PLAIN = "set ftp:ssl-allow no; "


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=1800)
    return time.perf_counter() - start


class Peer:
    """How to reach one server: base URL, remote folder, credentials for curl and lftp."""

    def __init__(self, name: str, port: int, folder: str, user: str, password: str) -> None:
        self.name, self.port, self.folder = name, port, folder
        self.user, self.password = user, password

    def url(self, path: str = "") -> str:
        return f"ftp://127.0.0.1:{self.port}{self.folder}/{path}"

    def curl(self, tls: bool, *args: str) -> float:
        extra = ["--ssl-reqd", "--insecure"] if tls else []
        return timed(["curl", "-sS", "--user", f"{self.user}:{self.password}", *extra, *args])

    def lftp(self, tls: bool, script: str) -> float:
        settings = LFTP_TLS if tls else LFTP_PLAIN
        login = f"{self.user},{self.password}"
        url = f"ftp://127.0.0.1:{self.port}"
        return timed(["lftp", "-u", login, "-e", f"{settings}{script}; bye", url])


def scenarios(peer: Peer, work: Path, big: Path, tree: Path, tls: bool, tag: str) -> dict:
    suffix = f"{tag}-{'tls' if tls else 'plain'}"
    results = {}
    results["large upload"] = peer.curl(tls, "-T", str(big), peer.url(f"big-{suffix}.bin"))
    results["large download"] = peer.curl(tls, "-o", os.devnull, peer.url(f"big-{suffix}.bin"))
    remote_tree = f"{peer.folder}/tree-{suffix}"
    results["small files up"] = peer.lftp(tls, f"mirror --reverse {tree} {remote_tree}")
    back = work / f"back-{peer.name}-{suffix}"
    results["small files down"] = peer.lftp(tls, f"mirror {remote_tree} {back}")
    return results


def make_inputs(work: Path, size_mib: int, files: int) -> tuple[Path, Path]:
    big = work / "big.bin"
    with big.open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(1024 * 1024))
    tree = work / "tree"
    for index in range(files):
        folder = tree / f"d{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}.bin").write_bytes(os.urandom(4096))
    return big, tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--files", type=int, default=500)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ftp-bench-"))
    big, tree = make_inputs(work, options.size_mib, options.files)
    with RunningAppliance(work, SERVICES, accounts={"alice": PASSWORD}) as app:
        app.home("alice").mkdir(parents=True, exist_ok=True)
        pem = app.root / "keys" / "tls.pem"
        with LoopbackVsftpd(pem, require_tls=False, require_ssl_reuse=False) as vsftpd:
            ours = Peer("appliance", app.port("ftp"), "", "alice", PASSWORD)
            native = Peer("vsftpd", vsftpd.port, "/up", "anonymous", "bench@")
            report(ours, native, work, big, tree, options)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def report(ours: Peer, native: Peer, work: Path, big: Path, tree: Path, options) -> None:
    print(f"large file: {options.size_mib} MiB; small files: {options.files} x 4 KiB")
    print(f"{'protocol':<8} {'scenario':<22} {'appliance s':>12} {'vsftpd s':>10} {'ratio':>7}")
    for tls in (False, True):
        mine = scenarios(ours, work, big, tree, tls, "a")
        theirs = scenarios(native, work, big, tree, tls, "v")
        for scenario, seconds in mine.items():
            ratio = theirs[scenario] / seconds
            protocol = "FTPS" if tls else "FTP"
            print(
                f"{protocol:<8} {scenario:<22} {seconds:>12.2f} {theirs[scenario]:>10.2f} "
                f"{ratio:>6.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
