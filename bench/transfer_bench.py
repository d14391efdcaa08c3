"""Benchmark a client transfer (push to SFTP) against OpenSSH's own `sftp -b put`.

    python bench/transfer_bench.py [--size-mb 512] [--small-files 2000] [--parallel 1]

Starts one OpenSSH sshd (internal-sftp) on a free loopback port, then pushes the same data
to it twice in the same run: one large file and a folder of small 4 KiB files, first with
`sftp -b` (`put`, `put -r`; aes128-gcm as bench/ssh_bench.py), then through a
`[transfers/...]` section with the engine's own code (`run_transfer_now`, what
`appliance transfers run ID` calls) in this process, so the figure is the transfer path
(scan, durable queue, events to the configured sinks, SFTP with the temporary name, size
checks and rename) without the start of a Python interpreter. The asyncssh client takes its
own default cipher. Prints seconds, MB/s or files/s and the ratio appliance / OpenSSH.
Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ssh_bench import make_data, sftp  # noqa: E402

from appliance.config import load_config  # noqa: E402
from appliance.runtime.events.bus import EventBus  # noqa: E402
from appliance.runtime.events.setup import build_sinks  # noqa: E402
from appliance.runtime.transfers.engine import run_transfer_now  # noqa: E402
from tests.ssh_support import ClientKey, client_key  # noqa: E402
from tests.sshd_support import LoopbackSshd, sshd_binary  # noqa: E402


def transfer_config(
    folder: Path, sshd: LoopbackSshd, key: ClientKey, source: Path, remote: Path, parallel: int
) -> Path:
    """A server.ini with one sftp location and one manual transfer per source folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.ini").write_text(
        textwrap.dedent(f"""\
        [server]

        [locations/sshd]
        type = sftp
        address = 127.0.0.1
        port = {sshd.port}
        username = {getpass.getuser()}
        private_key = {key.private}
        host_key = {sshd.host_key_line}
        max_connections = {parallel}

        [transfers/large]
        source = {source}
        match = large.bin
        destination = sshd
        destination_path = {remote}
        trigger = manual
        max_parallel = {parallel}
        retries = 0

        [transfers/small]
        source = {source / "small"}
        destination = sshd
        destination_path = {remote / "small"}
        trigger = manual
        max_parallel = {parallel}
        retries = 0
        """)
    )
    return folder


def run_transfer(config_folder: Path, transfer_id: str) -> float:
    """Seconds taken by `run_transfer_now` (a fresh queue each time: every file is new)."""
    config = load_config(config_folder)
    shutil.rmtree(config.data_folder, ignore_errors=True)
    bus = EventBus(build_sinks(config))
    try:
        started = time.perf_counter()
        asyncio.run(run_transfer_now(config, transfer_id, bus))
        return time.perf_counter() - started
    finally:
        bus.close()


def clean(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()


def count_files(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--small-files", type=int, default=2000)
    parser.add_argument(
        "--parallel", type=int, default=1, help="max_parallel and max_connections (default 1)"
    )
    args = parser.parse_args()
    if sshd_binary() is None or shutil.which("sftp") is None:
        print("needs OpenSSH: /usr/sbin/sshd (openssh-server) and sftp", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="transfer-bench-") as temporary:
        root = Path(temporary)
        local, remote = root / "local", root / "remote"
        local.mkdir()
        remote.mkdir()
        make_data(local, args.size_mb, args.small_files)
        key = client_key(root / "client")
        config = None
        results: dict[str, tuple[float, float]] = {}
        with LoopbackSshd(root / "sshd", key.public_line) as sshd:
            config = transfer_config(root / "appliance", sshd, key, local, remote, args.parallel)
            user = getpass.getuser()
            for name, batch, transfer_id, expected in (
                ("large", f"put large.bin {remote}/large.bin\n", "large", 1),
                ("small", f"put -r small {remote}/small\n", "small", args.small_files),
            ):
                clean(remote)
                openssh = sftp(sshd.port, user, key, batch, local)
                assert count_files(remote) == expected, "sftp -b did not put every file"
                clean(remote)
                ours = run_transfer(config, transfer_id)
                if count_files(remote) != expected:
                    print(f"the transfer {transfer_id} did not deliver every file", file=sys.stderr)
                    return 1
                results[name] = (ours, openssh)
        report(results, args.size_mb, args.small_files)
    return 0


def report(results: dict[str, tuple[float, float]], size_mb: int, small_files: int) -> None:
    print(f"\none run each; {size_mb} MiB file, {small_files} x 4 KiB files, push to sshd")
    print(f"{'push':<8}{'appliance':>22}{'OpenSSH sftp -b':>24}{'ratio':>8}")
    for name, (ours, theirs) in results.items():
        unit, amount = ("MB/s", size_mb * 1.048576) if name == "large" else ("files/s", small_files)
        print(
            f"{name:<8}{ours:>8.2f} s {amount / ours:>8.1f} {unit:<7}"
            f"{theirs:>8.2f} s {amount / theirs:>8.1f} {unit:<7}{theirs / ours:>7.2f}x"
        )


if __name__ == "__main__":
    sys.exit(main())
