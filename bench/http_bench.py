"""HTTP and HTTPS download/upload throughput of the appliance against nginx, as ratios.

    python bench/http_bench.py [--size-mib 512] [--rounds 3]

Starts nginx (plain and TLS, WebDAV PUT for uploads, same certificate) and the appliance
(http and https services) on free loopback ports, moves one large file with curl through
each, and prints the best of `rounds` for each and the appliance/nginx ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
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
    options = parser.parse_args()
    if not shutil.which("nginx") or not shutil.which("curl"):
        print("needs nginx and curl (scripts/apt-packages.txt)", file=sys.stderr)
        return 2
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


if __name__ == "__main__":
    sys.exit(main())
