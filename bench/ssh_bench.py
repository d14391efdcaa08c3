"""Benchmark the SSH service against OpenSSH's sshd on loopback, with OpenSSH's sftp client.

    python bench/ssh_bench.py [--size-mb 512] [--small-files 2000] [--runs 3]

Starts the appliance (one SSH service) and an sshd (internal-sftp) on free loopback ports,
both with the same client key, then times with `sftp -b` and aes128-gcm: upload and
download of one large file, and of a folder of small 4 KiB files. Prints MB/s (files/s for
small files) and the ratio appliance / sshd of the median of the runs. Not part of the tests.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.ssh_support import (  # noqa: E402
    ClientKey,
    account_section,
    client_key,
    ssh_appliance,
    ssh_options,
)
from tests.sshd_support import LoopbackSshd, sshd_binary  # noqa: E402

CLIENT_OPTIONS = [
    "-c",
    "aes128-gcm@openssh.com",
    "-o",
    "Compression=no",
    "-o",
    "PubkeyAuthentication=yes",
]


def start_sshd(folder: Path, public_line: str) -> tuple[subprocess.Popen, int]:
    """An sshd of the distribution, in the foreground, on a free loopback port."""
    sshd = LoopbackSshd(folder, public_line).start()
    return sshd.process, sshd.port


def sftp(port: int, user: str, key: ClientKey, commands: str, cwd: Path) -> float:
    """Seconds taken by one `sftp -b` batch."""
    options = [*ssh_options(port, key, scp=True), *CLIENT_OPTIONS]
    batch = cwd / "batch"
    batch.write_text(commands)
    started = time.perf_counter()
    subprocess.run(
        ["sftp", *options, "-b", str(batch), f"{user}@127.0.0.1"],
        check=True,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def make_data(folder: Path, size_mb: int, small_files: int) -> None:
    with (folder / "large.bin").open("wb") as stream:
        block = os.urandom(1024 * 1024)
        for _ in range(size_mb):
            stream.write(block)
    small = folder / "small"
    small.mkdir()
    for index in range(small_files):
        (small / f"f{index:05d}.dat").write_bytes(os.urandom(4096))


def one_run(port: int, user: str, key: ClientKey, remote: str, local: Path) -> dict[str, float]:
    """Times of the four transfers into `remote` (a folder on the server)."""
    down = local / "down"
    shutil.rmtree(down, ignore_errors=True)
    down.mkdir()
    times = {
        "large upload": sftp(port, user, key, f"put large.bin {remote}/large.bin\n", local),
        "large download": sftp(port, user, key, f"get {remote}/large.bin down/large.bin\n", local),
        "small upload": sftp(port, user, key, f"put -r small {remote}/small\n", local),
        "small download": sftp(port, user, key, f"get -r {remote}/small down/small\n", local),
    }
    return times


def clean_remote(folder: Path) -> None:
    for child in folder.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def report(results: dict[str, dict[str, list[float]]], size_mb: int, small_files: int) -> None:
    print(f"\nmedian of {len(results['sshd']['large upload'])} runs; sftp client, aes128-gcm")
    print(f"{'transfer':<16}{'appliance':>14}{'sshd':>14}{'ratio':>8}")
    for name in results["sshd"]:
        unit, amount = ("MB/s", size_mb * 1.048576) if "large" in name else ("files/s", small_files)
        ours = amount / statistics.median(results["appliance"][name])
        theirs = amount / statistics.median(results["sshd"][name])
        print(f"{name:<16}{ours:>9.1f} {unit:<4}{theirs:>9.1f} {unit:<4}{ours / theirs:>7.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--small-files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if sshd_binary() is None or shutil.which("sftp") is None:
        print("needs OpenSSH: /usr/sbin/sshd (openssh-server) and sftp", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ssh-bench-") as temporary:
        root = Path(temporary)
        local = root / "local"
        local.mkdir()
        make_data(local, args.size_mb, args.small_files)
        key = client_key(root / "client")
        sshd_files = root / "sshd-files"
        sshd_files.mkdir()
        sshd, sshd_port = start_sshd(root, key.public_line)
        app = ssh_appliance(root, account_section("bench", key=key)).start()
        home = app.home("bench")
        home.mkdir(parents=True, exist_ok=True)
        results: dict[str, dict[str, list[float]]] = {"appliance": {}, "sshd": {}}
        try:
            for run in range(args.runs):
                for name, port, user, remote, files in (
                    ("sshd", sshd_port, getpass.getuser(), str(sshd_files), sshd_files),
                    ("appliance", app.port("sftp"), "bench", "", home),
                ):
                    times = one_run(port, user, key, remote, local)
                    for transfer, seconds in times.items():
                        results[name].setdefault(transfer, []).append(seconds)
                    clean_remote(files)
                print(f"run {run + 1}/{args.runs} done", flush=True)
        finally:
            app.stop()
            sshd.terminate()
            sshd.wait()
        report(results, args.size_mb, args.small_files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
