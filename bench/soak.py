"""Bounded load and soak on loopback: concurrent mixed SFTP, FTPS and HTTPS sessions.

python bench/soak.py [--sessions 200] [--operations 20] [--logins 200] [--rounds 1] [--no-ldap]
Starts the appliance (tests/running.py), runs `sessions` concurrent sessions (a third each
SFTP, implicit FTPS, HTTPS), each doing `operations` upload/list/download/delete steps, then
measures logins per second for local accounts and, against a real OpenLDAP slapd
(tests/lab_slapd.py; on by default when slapd and ldap-utils are installed), for LDAP
accounts (chain `local, ldap`: an LDAP login pays no local hash check; only failed logins
spend one, so timing does not tell which names exist). Prints errors (must be 0), p50/p99 operation
latency, peak RSS and RSS growth of the appliance process. Not part of the test command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import lab_slapd  # noqa: E402
from tests.ftp_helpers import ImplicitFTP_TLS, insecure_context  # noqa: E402
from tests.lab_pki import CA  # noqa: E402
from tests.security.escape_http import Client  # noqa: E402
from tests.security.escape_ssh import connect as ssh_connect  # noqa: E402
from tests.security.site import PASSWORDS, rss_bytes, security_site  # noqa: E402

USER, PASSWORD = "alice", PASSWORDS["alice"]
LDAP_USER, LDAP_PASSWORD = "ldapuser", "ldapuser-pw-789"
PEOPLE = lab_slapd.PEOPLE
DATA = bytes(range(256)) * 256  # 64 KiB


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def record(self, started: float) -> None:
        with self.lock:
            self.latencies.append(time.perf_counter() - started)

    def fail(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def ftps_session(port: int, index: int, operations: int, stats: Stats) -> None:
    try:
        client = ImplicitFTP_TLS(context=insecure_context())
        client.connect("127.0.0.1", port, timeout=120)
        client.login(USER, PASSWORD)
        client.prot_p()
        for step in range(operations):
            name = f"ftps-{index}-{step}.bin"
            started = time.perf_counter()
            client.storbinary(f"STOR {name}", io.BytesIO(DATA))
            out = io.BytesIO()
            client.retrbinary(f"RETR {name}", out.write)
            client.delete(name)
            if out.getvalue() != DATA:
                stats.fail(f"ftps {name}: wrong bytes")
            stats.record(started)
        client.quit()
    except Exception as error:
        stats.fail(f"ftps session {index}: {error!r}")


def https_session(port: int, index: int, operations: int, stats: Stats) -> None:
    try:
        client = Client(port, USER, PASSWORD, insecure_context())
        for step in range(operations):
            name = f"https-{index}-{step}.bin"
            started = time.perf_counter()
            put = client.request("PUT", f"/api/files/{name}", DATA)[0]
            status, _, body = client.request("GET", f"/api/files/{name}")
            gone = client.request("DELETE", f"/api/files/{name}")[0]
            if (put, status, gone) != (201, 200, 204) or body != DATA:
                stats.fail(f"https {name}: {put} {status} {gone}")
            stats.record(started)
    except Exception as error:
        stats.fail(f"https session {index}: {error!r}")


async def sftp_session(port: int, index: int, operations: int, stats: Stats) -> None:
    try:
        async with await ssh_connect(port, USER, PASSWORD) as conn:
            sftp = await conn.start_sftp_client()
            for step in range(operations):
                name = f"sftp-{index}-{step}.bin"
                started = time.perf_counter()
                async with sftp.open(name, "wb") as handle:
                    await handle.write(DATA)
                async with sftp.open(name, "rb") as handle:
                    back = await handle.read()
                await sftp.remove(name)
                if back != DATA:
                    stats.fail(f"sftp {name}: wrong bytes")
                stats.record(started)
    except Exception as error:
        stats.fail(f"sftp session {index}: {error!r}")


def sftp_sessions(port: int, indexes: list[int], operations: int, stats: Stats) -> None:
    async def run() -> None:
        await asyncio.gather(*(sftp_session(port, i, operations, stats) for i in indexes))

    asyncio.run(run())


def start_slapd(folder: Path) -> lab_slapd.Slapd:
    """slapd with one LDAP account, LDAP_USER (bind with a DN template, no local account)."""
    folder.mkdir(parents=True)
    slapd = lab_slapd.Slapd(folder, CA())
    slapd.start()
    try:
        slapd.add(
            lab_slapd.BASE_ENTRIES
            + f"""
dn: uid={LDAP_USER},{PEOPLE}
objectClass: inetOrgPerson
uid: {LDAP_USER}
cn: LDAP User
sn: User
userPassword: {LDAP_PASSWORD}
"""
        )
    except BaseException:
        slapd.stop()
        raise
    return slapd


def ldap_method(slapd: lab_slapd.Slapd) -> str:
    """The [authentications/ldap] section; LDAP accounts get the site's `users` group."""
    return f"""
[authentications/ldap]
type = ldap
url = {slapd.url}
bind_dn_template = uid=${{USER}},{PEOPLE}
default_group = users
"""


def logins_per_second(port: int, count: int, user: str = USER, password: str = PASSWORD) -> float:
    def one(_: int) -> None:
        client = Client(port, user, password)
        client.conn.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))
    return count / (time.perf_counter() - started)


def run_round(app, sftp_ids: list[int], third: int, operations: int, stats: Stats, pid: int) -> int:
    """One batch of concurrent sessions; returns the peak RSS seen meanwhile."""
    threads = [
        threading.Thread(target=sftp_sessions, args=(app.port("sftp"), sftp_ids, operations, stats))
    ]
    for i in range(third):
        threads.append(
            threading.Thread(target=ftps_session, args=(app.port("ftps"), i, operations, stats))
        )
        threads.append(
            threading.Thread(target=https_session, args=(app.port("webs"), i, operations, stats))
        )
    peak = 0
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_bytes(pid))
        time.sleep(0.2)
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--operations", type=int, default=20)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the batch of sessions this many times; RSS after each round tells memory "
        "the allocator keeps (flat after the first round) from a leak (grows every round)",
    )
    parser.add_argument(
        "--ldap",
        action=argparse.BooleanOptionalAction,
        default=lab_slapd.available(),
        help="also measure LDAP logins against a real slapd (default: when slapd is installed)",
    )
    args = parser.parse_args()
    ldap_skipped = ""
    if not args.ldap:
        ldap_skipped = "--no-ldap" if lab_slapd.available() else "slapd or ldapadd not installed"
    elif not lab_slapd.available():
        ldap_skipped = f"{lab_slapd.SLAPD} or ldapadd not installed"
    root = Path(tempfile.mkdtemp(prefix="soak-"))
    ldap_rate = None
    with contextlib.ExitStack() as stack:
        site = {}
        if not ldap_skipped:
            slapd = start_slapd(root / "slapd")
            stack.callback(slapd.stop)
            site = {"authentications": "local, ldap", "extra": ldap_method(slapd)}
        app = stack.enter_context(security_site(root, passive=(62600, 62799), **site))
        pid = app.process.pid
        app.home("alice").mkdir(parents=True, exist_ok=True)
        start_rss = peak = rss_bytes(pid)
        stats = Stats()
        third = args.sessions // 3
        sftp_ids = list(range(args.sessions - 2 * third))
        round_rss = []
        began = time.perf_counter()
        for _ in range(args.rounds):
            peak = max(peak, run_round(app, sftp_ids, third, args.operations, stats, pid))
            round_rss.append(rss_bytes(pid))
        elapsed = time.perf_counter() - began
        end_rss = round_rss[-1]
        rate = logins_per_second(app.port("web"), args.logins)
        if not ldap_skipped:
            app.home(LDAP_USER).mkdir(parents=True, exist_ok=True)
            ldap_rate = logins_per_second(app.port("web"), args.logins, LDAP_USER, LDAP_PASSWORD)
    latencies = sorted(stats.latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    print(
        f"sessions {args.sessions} (sftp {len(sftp_ids)}, ftps {third}, https {third}), "
        f"operations per session {args.operations} (upload+download+delete of 64 KiB), "
        f"rounds {args.rounds}"
    )
    print(f"operations completed {len(latencies)} in {elapsed:.1f} s; errors {len(stats.errors)}")
    for error in stats.errors[:10]:
        print("  error:", error)
    if latencies:
        print(f"latency p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    print(
        f"RSS start {start_rss / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB, "
        f"growth {(end_rss - start_rss) / 2**20:.1f} MiB"
    )
    if len(round_rss) > 1:
        print("RSS after each round: " + ", ".join(f"{r / 2**20:.1f}" for r in round_rss) + " MiB")
    print(f"logins per second (local accounts, HTTP, 8 clients): {rate:.1f}")
    if ldap_rate is None:
        print(f"logins per second (LDAP accounts, HTTP, 8 clients): skipped ({ldap_skipped})")
    else:
        print(f"logins per second (LDAP accounts, HTTP, 8 clients): {ldap_rate:.1f}")
    return 1 if stats.errors else 0


if __name__ == "__main__":
    sys.exit(main())
