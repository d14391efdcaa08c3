"""HTTP and HTTPS download/upload throughput of the appliance against nginx, as ratios.

    python bench/http_bench.py [--size-mib 512] [--rounds 3]
    python bench/http_bench.py --small-files 500 [--clients 4] [--rounds 3]

Starts nginx (plain and TLS, WebDAV PUT for uploads, same certificate) and the appliance
(http and https services) on free loopback ports, moves one large file with curl through
each, and prints the best of `rounds` for each and the appliance/nginx ratio.

With --small-files N: N files of 4 KiB are PUT, then GET, by `clients` curl processes in
parallel, each moving its share over one keep-alive connection; the appliance is measured
twice, with HTTP Basic on every request and with the session cookie of one /api/login per
client. Prints files per second and the ratios to nginx.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import free_port, wait_for  # noqa: E402
from tests.running import RunningAppliance  # noqa: E402

NGINX_CONF = """\
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    client_max_body_size 0;
    client_body_temp_path {root}/nginx-body;
    proxy_temp_path {root}/nginx-proxy;
    fastcgi_temp_path {root}/nginx-fastcgi;
    uwsgi_temp_path {root}/nginx-uwsgi;
    scgi_temp_path {root}/nginx-scgi;
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {pem};
        ssl_certificate_key {pem};
        ssl_protocols TLSv1.2 TLSv1.3;
        root {files};
        location / {{ dav_methods PUT; create_full_put_path on; }}
    }}
}}
"""
SERVICES = """\
[services/web]
type = http
address = 127.0.0.1
port = {port}

[services/webs]
type = https
address = 127.0.0.1
port = {port}
"""


def curl_speed(*args: str) -> float:
    """Bytes per second curl reports for one transfer."""
    done = subprocess.run(
        ["curl", "-sSk", "--fail", "-o", os.devnull, *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"curl {' '.join(args)} failed: {done.stderr}")
    return float(done.stdout)


def best(rounds: int, *args: str) -> float:
    return max(curl_speed(*args) for _ in range(rounds))


def start_nginx(root: Path, files: Path, pem: Path) -> tuple[subprocess.Popen, int, int]:
    http_port, https_port = free_port(), free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            root=root, files=files, pem=pem, http_port=http_port, https_port=https_port
        )
    )
    process = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"])
    wait_for(
        lambda: (
            subprocess.run(["curl", "-so", os.devnull, f"http://127.0.0.1:{http_port}/"]).returncode
            == 0
        )
    )
    return process, http_port, https_port


def measure(rounds: int, url: str, upload: Path, auth: tuple[str, ...]) -> tuple[float, float]:
    down = best(rounds, *auth, "-w", "%{speed_download}", url + "big.bin")
    up = best(rounds, *auth, "-w", "%{speed_upload}", "-T", str(upload), url + "up.bin")
    return down, up


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small-files", type=int, default=0, help="N files of 4 KiB instead")
    parser.add_argument("--clients", type=int, default=4)
    options = parser.parse_args()
    if not shutil.which("nginx") or not shutil.which("curl"):
        print("needs nginx and curl (scripts/apt-packages.txt)", file=sys.stderr)
        return 2
    if options.small_files:
        return small_files_main(options)
    with tempfile.TemporaryDirectory(prefix="http-bench-") as temporary:
        root = Path(temporary)
        big = root / "big.bin"
        with big.open("wb") as stream:
            for _ in range(options.size_mib):
                stream.write(os.urandom(1 << 20))
        app = RunningAppliance(root, SERVICES, accounts={"alice": "pw"})
        app.write_config()
        app.home("alice").mkdir(parents=True, exist_ok=True)
        os.link(big, app.home("alice") / "big.bin")
        nginx_files = root / "nginx-files"
        nginx_files.mkdir()
        # nginx's workers run as an unprivileged user when started by root.
        root.chmod(0o755)
        nginx_files.chmod(0o777)
        os.link(big, nginx_files / "big.bin")
        nginx, nginx_http, nginx_https = start_nginx(root, nginx_files, app.root / "keys/tls.pem")
        try:
            with app:
                results = run(options.rounds, app, nginx_http, nginx_https, big)
        finally:
            nginx.terminate()
            nginx.wait(10)
    print_results(options.size_mib, results)
    return 0


def run(rounds: int, app: RunningAppliance, nginx_http: int, nginx_https: int, big: Path):
    auth = ("-u", "alice:pw")
    plan = {
        "HTTP": (
            f"http://127.0.0.1:{nginx_http}/",
            f"http://127.0.0.1:{app.port('web')}/api/files/",
        ),
        "HTTPS": (
            f"https://127.0.0.1:{nginx_https}/",
            f"https://127.0.0.1:{app.port('webs')}/api/files/",
        ),
    }
    results = {}
    for name, (nginx_url, app_url) in plan.items():
        results[name] = (measure(rounds, nginx_url, big, ()), measure(rounds, app_url, big, auth))
    return results


def print_results(size_mib: int, results: dict) -> None:
    print(f"{size_mib} MiB file, best of rounds, curl on loopback (MB/s = 10^6 bytes/s)")
    print(f"{'':6} {'direction':9} {'nginx':>9} {'appliance':>10} {'ratio':>6}")
    for name, ((nginx_down, nginx_up), (app_down, app_up)) in results.items():
        for direction, theirs, ours in (
            ("download", nginx_down, app_down),
            ("upload", nginx_up, app_up),
        ):
            print(
                f"{name:6} {direction:9} {theirs / 1e6:9.0f} {ours / 1e6:10.0f}",
                f"{ours / theirs:6.2f}",
            )


# -- many small files over keep-alive connections ------------------------------------------
SMALL_SIZE = 4096


def _curl_many(jobs: list[list[str]]) -> float:
    """Run one curl per job at once (each job: the arguments of one keep-alive client);
    seconds until the last one finished."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(["curl", "-sSk", "--fail", *job], stdout=subprocess.DEVNULL)
        for job in jobs
    ]
    failed = [p.args for p in processes if p.wait() != 0]
    if failed:
        raise RuntimeError(f"curl failed: {failed[0][:12]}")
    return time.perf_counter() - started


def _shares(names: list[str], clients: int) -> list[list[str]]:
    return [names[index::clients] for index in range(clients)]


def _put_args(base: str, source: Path, names: list[str]) -> list[str]:
    args: list[str] = []
    for name in names:
        args += ["-T", str(source), base + name]
    return args


def _get_args(base: str, names: list[str]) -> list[str]:
    args: list[str] = []
    for name in names:
        args += ["-o", os.devnull, base + name]
    return args


def _login(base: str, jar: Path) -> None:
    done = subprocess.run(
        ["curl", "-sSk", "--fail", "-c", str(jar), "-H", "content-type: application/json",
         "--data", json.dumps({"username": "alice", "password": "pw"}), base + "/api/login"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"login failed: {done.stderr}")


def _small_round(base: str, files: int, clients: int, source: Path, auth) -> tuple[float, float]:
    """Files per second for PUT, then GET, of `files` names by `clients` parallel curls."""
    names = [f"small-{uuid.uuid4().hex[:8]}-{index}.bin" for index in range(files)]
    shares = list(enumerate(_shares(names, clients)))
    put = _curl_many([[*auth(i), *_put_args(base, source, share)] for i, share in shares])
    get = _curl_many([[*auth(i), *_get_args(base, share)] for i, share in shares])
    return files / put, files / get


def _small_scheme(options, root: Path, source: Path, app, service: str, nginx_base: str) -> dict:
    """Best PUT and GET files/s of nginx, the appliance with Basic, and with the cookie."""
    origin = f"{'https' if service == 'webs' else 'http'}://127.0.0.1:{app.port(service)}"
    jars = [root / f"{service}-{index}.jar" for index in range(options.clients)]
    for jar in jars:
        _login(origin, jar)
    plans = {
        "nginx": (nginx_base, lambda index: ()),
        "basic": (origin + "/api/files/", lambda index: ("-u", "alice:pw")),
        "cookie": (origin + "/api/files/", lambda index: ("-b", str(jars[index]))),
    }
    best = {}
    for name, (base, auth) in plans.items():
        measured = [
            _small_round(base, options.small_files, options.clients, source, auth)
            for _ in range(options.rounds)
        ]
        best[name] = (max(m[0] for m in measured), max(m[1] for m in measured))
    return best


def small_files_main(options) -> int:
    with tempfile.TemporaryDirectory(prefix="http-bench-small-") as temporary:
        root = Path(temporary)
        root.chmod(0o755)
        source = root / "small.bin"
        source.write_bytes(os.urandom(SMALL_SIZE))
        app = RunningAppliance(root, SERVICES, accounts={"alice": "pw"})
        app.write_config()
        app.home("alice").mkdir(parents=True, exist_ok=True)
        nginx_files = root / "nginx-files"
        nginx_files.mkdir()
        nginx_files.chmod(0o777)
        nginx, nginx_http, nginx_https = start_nginx(root, nginx_files, app.root / "keys/tls.pem")
        rows = []
        try:
            with app:
                for scheme, nginx_port, service in (
                    ("HTTP", nginx_http, "web"),
                    ("HTTPS", nginx_https, "webs"),
                ):
                    nginx_base = f"{scheme.lower()}://127.0.0.1:{nginx_port}/"
                    best = _small_scheme(options, root, source, app, service, nginx_base)
                    rows.append((scheme, best))
        finally:
            nginx.terminate()
            nginx.wait(10)
    print(
        f"{options.small_files} files of 4 KiB, {options.clients} curl clients on keep-alive"
        f" connections, best of {options.rounds} (files/s)"
    )
    heading = ("nginx", "Basic", "cookie", "Basic x", "cookie x")
    print(f"{'':6} {'method':6}" + "".join(f"{name:>9}" for name in heading))
    for scheme, best in rows:
        for index, method in ((0, "PUT"), (1, "GET")):
            theirs, basic, cookie = (best[n][index] for n in ("nginx", "basic", "cookie"))
            print(
                f"{scheme:6} {method:6}{theirs:9.0f}{basic:9.0f}{cookie:9.0f}"
                f"{basic / theirs:9.2f}{cookie / theirs:9.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
