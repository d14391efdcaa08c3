"""Malformed input on real sockets: FTP command lines, HTTP requests, SSH version strings, SFTP
packets, TLS garbage. After every burst each service still serves a good client, the
appliance runs, logged no traceback and its RSS stayed bounded; every answer to garbage is
a protocol reply (FTP reply lines, HTTP 4xx, SFTP status packets, TLS alerts, the SSH
version line) or a clean disconnect. Fast mode here; --long multiplies the bursts by ten.
"""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.ftp_helpers import insecure_context
from tests.security import fuzz_ftp, fuzz_http, fuzz_ssh, fuzz_tls
from tests.security.escape_ssh import connect as ssh_connect
from tests.security.health import Watch, all_serving
from tests.security.site import PASSWORDS, security_site

RSS_GROWTH_LIMIT = 64 * 1024 * 1024
WORKERS = 8


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("malformed")
    with security_site(root, passive=(62340, 62379)) as running:
        assert all(all_serving(running).values())
        yield running


def scale(request) -> int:
    return 10 if request.config.getoption("--long") else 1


def after_burst(app, watch: Watch, burst: int) -> None:
    """Health after a burst; RSS growth counts from the end of the first (warm-up) burst."""
    assert all(all_serving(app).values())
    assert watch.problems() == []
    if burst == 0:
        watch.rebase()
    assert watch.growth() < RSS_GROWTH_LIMIT, f"RSS grew by {watch.growth()} bytes"


def parallel(function, items) -> list:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(function, items))


def test_ftp_command_lines(app, request):
    watch = Watch(app)
    rng = random.Random(11)
    for burst in range(4 * scale(request)):
        sessions = [fuzz_ftp.burst(rng, 30, log_in=i % 2 == 0) for i in range(12)]
        replies = parallel(lambda lines: fuzz_ftp.exchange(app.port("ftp"), lines), sessions)
        problems = [p for data in replies for p in fuzz_ftp.check_replies(data)]
        assert problems == [], f"burst {burst}: {problems[:5]}"
        assert all(data.startswith(b"220") for data in replies)
        after_burst(app, watch, burst)


@pytest.mark.parametrize("service", ["web", "webs"])
def test_http_requests(app, request, service):
    watch = Watch(app)
    rng = random.Random(12)
    tls = insecure_context() if service == "webs" else None
    answered = 0
    for burst in range(3 * scale(request)):
        cases = list(fuzz_http.CASES) + [fuzz_http.random_request(rng) for _ in range(60)]
        answers = parallel(lambda case: fuzz_http.exchange(app.port(service), case, tls), cases)
        problems = [p for p in map(fuzz_http.check_answer, answers) if p]
        assert problems == [], f"burst {burst}: {problems[:5]}"
        answered += sum(1 for answer in answers if answer)
        after_burst(app, watch, burst)
    assert answered > 0  # most garbage gets a 400, not only a silent close


def test_ssh_version_strings(app, request):
    watch = Watch(app)
    rng = random.Random(13)
    for burst in range(2 * scale(request)):
        cases = list(fuzz_ssh.VERSIONS) + [fuzz_ssh.random_version(rng) for _ in range(30)]
        results = parallel(lambda case: fuzz_ssh.version_exchange(app.port("sftp"), case), cases)
        for case, (data, _closed) in zip(cases, results, strict=True):
            assert data.startswith(b"SSH-2.0-"), f"{case[:60]!r} got {data[:80]!r}"
        after_burst(app, watch, burst)
    assert app.events(30002)


async def sftp_bursts(port: int, cases: list[bytes]) -> list[str]:
    problems = []
    async with await ssh_connect(port, "alice", PASSWORDS["alice"]) as conn:
        for start in range(0, len(cases), 10):
            group = cases[start : start + 10]
            replies = await asyncio.gather(*(fuzz_ssh.sftp_case(conn, c, 1.0) for c in group))
            for case, reply in zip(group, replies, strict=True):
                problem = fuzz_ssh.check_sftp_replies(reply)
                if problem:
                    problems.append(f"{case[:40]!r}: {problem}")
        async with conn.start_sftp_client() as sftp:  # the same connection still works
            await sftp.listdir(".")
    return problems


def test_sftp_packets(app, request):
    watch = Watch(app)
    rng = random.Random(14)
    for burst in range(2 * scale(request)):
        cases = fuzz_ssh.sftp_cases(rng, 60)
        problems = asyncio.run(sftp_bursts(app.port("sftp"), cases))
        assert problems == [], f"burst {burst}: {problems[:5]}"
        after_burst(app, watch, burst)


@pytest.mark.parametrize("service", ["ftps", "webs", "ftp"])
def test_tls_garbage(app, request, service):
    watch = Watch(app)
    rng = random.Random(15)
    for burst in range(2 * scale(request)):
        cases = list(fuzz_tls.CASES) + [fuzz_tls.client_hello_like(rng) for _ in range(30)]
        answers = parallel(
            lambda case: fuzz_tls.exchange(app.port(service), case, starttls=service == "ftp"),
            cases,
        )
        problems = [p for p in map(fuzz_tls.check_answer, answers) if p]
        assert problems == [], f"burst {burst}: {problems[:5]}"
        after_burst(app, watch, burst)
    if service != "webs":
        assert app.events(10037)  # FTP records each failed handshake
