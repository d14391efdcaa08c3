"""Active-active behind HAProxy, in three network namespaces: a balancer and two nodes.

The host side plays the client and runs PostgreSQL (the shared audit trail and shared state);
the balancer runs HAProxy with the configuration the appliance_lb role renders; both nodes
serve one shared folder. Checked: audit records carry the client's address, not the
balancer's; an HTTP session goes on on the other node; a node stopped mid-run leaves new
sessions to the other; an address banned by one node is refused by both.

    host (client, PostgreSQL) --c-- lb (HAProxy) --a-- node A
                                               `--b-- node B
    host --pa-- node A, host --pb-- node B (PostgreSQL only)
"""

from __future__ import annotations

import csv
import ftplib
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import paramiko
import pytest

from appliance.runtime.aaa.passwords import hash_password_scrypt
from appliance.runtime.database.postgresql import PostgreSQLResource
from appliance.runtime.events.query import query_postgresql_events
from tests.conftest import REPO
from tests.helpers import wait_for
from tests.lab_postgresql import USER, PostgreSQL
from tests.lb_support import write_checked
from tests.running import _write_keys

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")

PORTS = {"ftp": 2121, "ftps": 2990, "sftp": 2222, "https": 2443}
PASSIVE = {"node-a": "30000-30019", "node-b": "30020-30039"}
FTPS_PASSIVE = {"node-a": "31000-31019", "node-b": "31020-31039"}
PASSWORD = "alice-pw"


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


class Lab:
    """Namespaces, veth pairs and addresses; `close()` removes every one of them."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        base = random.randrange(0, 40) * 6
        net = [f"10.233.{base + i}" for i in range(5)]
        self.ns = {"lb": f"so-lb-{tag}", "node-a": f"so-na-{tag}", "node-b": f"so-nb-{tag}"}
        self.client, self.client2, self.front = f"{net[0]}.1", f"{net[0]}.3", f"{net[0]}.2"
        self.lb_side = {"node-a": f"{net[1]}.1", "node-b": f"{net[2]}.1"}
        self.node = {"node-a": f"{net[1]}.2", "node-b": f"{net[2]}.2"}
        self.pg_host = {"node-a": f"{net[3]}.1", "node-b": f"{net[4]}.1"}
        self.pg_node = {"node-a": f"{net[3]}.2", "node-b": f"{net[4]}.2"}
        self.links = [f"soc{tag}", f"sopa{tag}", f"sopb{tag}"]
        self.tag = tag

    def _pair(self, host_end: str, host_ns: str | None, peer_ns: str, a: str, b: str) -> None:
        peer = host_end + "p"
        if host_ns is None:
            sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", peer)
            sh("ip", "addr", "add", f"{a}/24", "dev", host_end)
            sh("ip", "link", "set", host_end, "up")
        else:
            sh(
                "ip",
                "link",
                "add",
                host_end,
                "netns",
                host_ns,
                "type",
                "veth",
                "peer",
                "name",
                peer,
            )
            sh("ip", "-n", host_ns, "addr", "add", f"{a}/24", "dev", host_end)
            sh("ip", "-n", host_ns, "link", "set", host_end, "up")
        sh("ip", "link", "set", peer, "netns", peer_ns)
        sh("ip", "-n", peer_ns, "addr", "add", f"{b}/24", "dev", peer)
        sh("ip", "-n", peer_ns, "link", "set", peer, "up")

    def open(self) -> Lab:
        for name in self.ns.values():
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        self._pair(self.links[0], None, self.ns["lb"], self.client, self.front)
        sh("ip", "addr", "add", f"{self.client2}/24", "dev", self.links[0])
        for node, link in (("node-a", f"soa{self.tag}"), ("node-b", f"sob{self.tag}")):
            self._pair(link, self.ns["lb"], self.ns[node], self.lb_side[node], self.node[node])
        for node, link in (("node-a", self.links[1]), ("node-b", self.links[2])):
            self._pair(link, None, self.ns[node], self.pg_host[node], self.pg_node[node])
        return self

    def close(self) -> None:
        for name in self.ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)


def node_config(folder: Path, lab: Lab, node: str, postgres: PostgreSQL, shared: Path) -> None:
    _write_keys(folder / "keys")
    account = hash_password_scrypt(PASSWORD, n=2**12)
    proxies = ", ".join(lab.lb_side.values())
    (folder / "server.ini").write_text(
        f"""\
[server]
name = {node}
authentications = local
ssh_server_keys = keys/ssh_host_ed25519_key, keys/ssh_host_rsa_key
tls_private_certificate = keys/tls.pem
trusted_proxies = {proxies}
shared_state = trail-db
http_session_key = {shared / "session.key"}
ban_failures = 3

[authentications/local]
type = application

[services/ftp]
type = ftp
address = 0.0.0.0
port = {PORTS["ftp"]}
passive_port_range = {PASSIVE[node]}
passive_address = {lab.front}

[services/ftps]
type = ftps-implicit
address = 0.0.0.0
port = {PORTS["ftps"]}
passive_port_range = {FTPS_PASSIVE[node]}
passive_address = {lab.front}

[services/sftp]
type = ssh
address = 0.0.0.0
port = {PORTS["sftp"]}

[services/https]
type = https
address = 0.0.0.0
port = {PORTS["https"]}

[groups/users]
home_folder_path = {shared / "files"}/${{USER}}
permissions = allow-full-control

[accounts/alice]
groups = users
password = {account}

[event-handlers/trail]
type = postgresql
resource = trail-db

{postgres.resource_ini("trail-db", "trail", host=lab.pg_host[node])}
"""
    )


def render_haproxy(tmp_path: Path, lab: Lab) -> Path:
    """haproxy.cfg from the appliance_lb role's template, accepted by `haproxy -c`."""
    services = {
        "ftp": {"type": "ftp", "port": PORTS["ftp"]},
        "ftps": {"type": "ftps-implicit", "port": PORTS["ftps"]},
        "sftp": {"type": "ssh", "port": PORTS["sftp"]},
        "https": {"type": "https", "port": PORTS["https"]},
    }
    nodes = [
        {
            "name": node,
            "address": lab.node[node],
            "passive_port_ranges": {"ftp": PASSIVE[node], "ftps": FTPS_PASSIVE[node]},
        }
        for node in ("node-a", "node-b")
    ]
    return write_checked(
        tmp_path / "haproxy.cfg",
        {
            "appliance_lb_services": services,
            "appliance_lb_nodes": nodes,
            "appliance_lb_addresses": list(lab.lb_side.values()),
            "appliance_lb_bind_address": lab.front,
            "appliance_lb_balance": "roundrobin",
            "appliance_lb_check_interval": 1,
            "appliance_lb_log_target": "127.0.0.1:514",
            "appliance_lb_stats_socket": str(tmp_path / "lb.sock"),
        },
    )


class Processes:
    def __init__(self) -> None:
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, namespace: str, argv: list[str], log: Path) -> None:
        stream = log.open("w")
        self.running[name] = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *argv],
            stdout=stream,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        for name in list(self.running):
            self.stop(name)


@pytest.mark.timeout(300)
def test_two_nodes_behind_haproxy(tmp_path: Path):
    if not shutil.which("haproxy"):
        pytest.fail("haproxy is missing (scripts/apt-packages.txt)")
    lab = Lab()
    processes = Processes()
    postgres = None
    try:
        lab.open()
        postgres = PostgreSQL(
            listen=("127.0.0.1", *lab.pg_host.values()),
            clients=("127.0.0.1/32", *(f"{a}/32" for a in lab.pg_node.values())),
        ).start()
        postgres.create_database("trail")
        shared = tmp_path / "shared"
        (shared / "files").mkdir(parents=True)
        (shared / "session.key").write_bytes(os.urandom(48))
        for node in ("node-a", "node-b"):
            folder = tmp_path / node
            node_config(folder, lab, node, postgres, shared)
            processes.start(
                node,
                lab.ns[node],
                [sys.executable, "-m", "appliance", "serve", "-q", "-c", str(folder)],
                folder / "serve.log",
            )
        config = render_haproxy(tmp_path, lab)
        processes.start(
            "haproxy", lab.ns["lb"], ["haproxy", "-db", "-f", str(config)], tmp_path / "lb.log"
        )
        stats = tmp_path / "lb.sock"
        trail = PostgreSQLResource(
            "trail",
            "127.0.0.1",
            postgres.port,
            "trail",
            USER,
            password_file=postgres.password_file,
            tls="disable",
        )

        def events(*ids: int) -> list[dict]:
            try:
                return query_postgresql_events(trail, ids=list(ids))
            except ValueError:
                return []

        def started() -> bool:
            for name, process in processes.running.items():
                assert process.poll() is None, f"{name} exited: see {tmp_path}"
            return len({(e["data"]["service"], e["node"]) for e in events(20076)}) == 8

        wait_for(started, timeout=90, interval=0.3)
        wait_for(lambda: set(servers_up(stats).values()) == {"UP"}, timeout=30, interval=0.5)

        # FTP through the balancer: login, passive upload and listing on either node.
        for index in range(4):
            with ftplib.FTP() as ftp:
                ftp.connect(lab.front, PORTS["ftp"], timeout=20)
                ftp.login("alice", PASSWORD)
                ftp.storbinary(f"STOR ftp-{index}.txt", io.BytesIO(b"x" * 1000))
                assert f"ftp-{index}.txt" in ftp.nlst()
        stored = [e for e in events(20050) if e["data"]["path"].startswith("/ftp-")]
        assert len(stored) == 4
        assert {e["node"] for e in stored} == {"node-a", "node-b"}
        assert all(e["peer"].startswith(f"{lab.client}:") for e in stored), stored

        # Implicit FTPS (curl) and SFTP (paramiko) through the balancer.
        source = tmp_path / "ftps.txt"
        source.write_bytes(b"y" * 2000)
        done = subprocess.run(
            [
                "curl",
                "-sS",
                "--insecure",
                "--max-time",
                "30",
                "-T",
                str(source),
                f"ftps://alice:{PASSWORD}@{lab.front}:{PORTS['ftps']}/ftps.txt",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        transport = paramiko.Transport((lab.front, PORTS["sftp"]))
        transport.connect(username="alice", password=PASSWORD)
        with paramiko.SFTPClient.from_transport(transport) as sftp:
            sftp.putfo(io.BytesIO(b"z" * 3000), "sftp.txt")
        transport.close()
        for name in ("ftps.txt", "sftp.txt"):
            record = wait_for(
                lambda name=name: [e for e in events(20050) if e["data"]["path"] == f"/{name}"]
            )[0]
            assert record["peer"].startswith(f"{lab.client}:"), record
        logins = events(20137)
        assert logins and all(e["peer"].startswith(f"{lab.client}:") for e in logins)
        assert not [
            e for e in events(20137, 20050) if e["peer"].split(":")[0] in lab.lb_side.values()
        ]

        # HTTPS: one session, requests on new connections land on both nodes.
        base = f"https://{lab.front}:{PORTS['https']}"
        login = httpx.post(
            f"{base}/api/login",
            json={"username": "alice", "password": PASSWORD},
            verify=False,  # noqa: S501 - the lab's self-signed certificate
        )
        assert login.status_code == 200, login.text
        cookie = {"appliance_session": login.cookies["appliance_session"]}
        for _ in range(4):
            answer = httpx.get(
                f"{base}/api/session",
                cookies=cookie,
                verify=False,  # noqa: S501 - the lab's self-signed certificate
            )
            assert answer.status_code == 200, answer.text
        adopted = wait_for(lambda: events(40011))
        login_node = [e for e in events(20137) if e["component"] == "services/https"][0]["node"]
        assert {e["node"] for e in adopted} == {"node-a", "node-b"} - {login_node}
        assert adopted[0]["peer"].startswith(f"{lab.client}:")

        # A ban made by one node holds on both (failures from a second client address).
        def wrong_login() -> None:
            ftp = ftplib.FTP(source_address=(lab.client2, 0), timeout=10)
            try:
                ftp.connect(lab.front, PORTS["ftp"])
                ftp.login("mallory", "wrong")
            except (ftplib.Error, OSError, EOFError):
                pass
            finally:
                ftp.close()

        for _ in range(3):
            wrong_login()
        banned = wait_for(lambda: events(20024))
        assert f"address {lab.client2}" in {e["data"]["subject"] for e in banned}

        def refused_on_both() -> bool:
            wrong_login()
            refused = [e for e in events(20023) if e["peer"].startswith(lab.client2)]
            return {e["node"] for e in refused} == {"node-a", "node-b"}

        wait_for(refused_on_both, timeout=30, interval=0.5)

        # Node A stops: new sessions are all served by node B.
        processes.stop("node-a")
        before = {e["uuid"] for e in events(20137)}
        for _ in range(4):
            with ftplib.FTP() as ftp:
                ftp.connect(lab.front, PORTS["ftp"], timeout=20)
                ftp.login("alice", PASSWORD)
                assert "ftp-0.txt" in ftp.nlst()  # shared storage
        after = [e for e in events(20137) if e["uuid"] not in before]
        assert len(after) == 4 and {e["node"] for e in after} == {"node-b"}
    finally:
        processes.close()
        lab.close()
        if postgres is not None:
            postgres.stop()


def servers_up(socket_path: Path) -> dict[str, str]:
    """backend/server -> status (UP, DOWN...) as HAProxy's stats socket reports them."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(socket_path))
        sock.sendall(b"show stat\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    rows = list(csv.reader(data.decode().lstrip("# ").splitlines()))
    header, rows = rows[0], [row for row in rows[1:] if row]
    index = {name: header.index(name) for name in ("pxname", "svname", "status")}
    return {
        f"{row[index['pxname']]}/{row[index['svname']]}": row[index["status"]]
        for row in rows
        if row[index["svname"]] not in ("FRONTEND", "BACKEND")
    }
