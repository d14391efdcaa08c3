"""Start the real appliance as a process on free ports, for integration tests.

with RunningAppliance(tmp_path, SERVICES, accounts={"alice": "pw"}) as app:
    app.port("sftp"); app.home("alice"); app.events(20050)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from appliance.config.demo import self_signed_pem, write_ssh_host_keys
from appliance.runtime.aaa.passwords import hash_password_scrypt
from tests.helpers import audit_events, free_port, wait_for

REPO = Path(__file__).resolve().parents[1]
_KEYS_CACHE: dict[str, bytes] = {}


def _write_keys(folder: Path) -> None:
    """Host keys and certificate, generated once per test run and copied after that."""
    folder.mkdir(parents=True, exist_ok=True)
    if not _KEYS_CACHE:
        write_ssh_host_keys(folder)
        (folder / "tls.pem").write_bytes(self_signed_pem())
        for path in folder.iterdir():
            _KEYS_CACHE[path.name] = path.read_bytes()
        return
    for name, data in _KEYS_CACHE.items():
        (folder / name).write_bytes(data)
        if not name.endswith(".pub"):
            (folder / name).chmod(0o600)


class RunningAppliance:
    """`services` is INI text for [services/<id>] sections with `port = {port}` placeholders."""

    def __init__(
        self,
        root: Path,
        services: str,
        *,
        accounts: dict[str, str] | None = None,
        extra: str = "",
        server_options: str = "",
    ) -> None:
        self.root = Path(root) / "appliance"
        self.ports: dict[str, int] = {}
        self.services_text = services
        self.accounts = accounts or {}
        self.extra = extra
        self.server_options = server_options
        self.process: subprocess.Popen | None = None

    # -- configuration ----------------------------------------------------
    def _render_services(self) -> str:
        out = []
        for block in textwrap.dedent(self.services_text).strip().split("\n\n"):
            service_id = block.split("]", 1)[0].split("/", 1)[1]
            port = self.ports.setdefault(service_id, free_port())
            out.append(block.replace("{port}", str(port)))
        return "\n\n".join(out)

    def write_config(self) -> Path:
        _write_keys(self.root / "keys")
        accounts = "\n".join(
            f"[accounts/{name}]\ngroups = users\npassword = {hash_password_scrypt(pw, n=2**12)}\n"
            for name, pw in self.accounts.items()
        )
        text = f"""\
[server]
authentications = local
ssh_server_keys = keys/ssh_host_ed25519_key, keys/ssh_host_rsa_key
tls_private_certificate = keys/tls.pem
{textwrap.dedent(self.server_options).strip()}

[authentications/local]
type = application

{self._render_services()}

[groups/users]
home_folder_path = files/${{USER}}
permissions = allow-full-control

{accounts}

[event-handlers/audit]
type = sqlite
path = data/audit.db

{textwrap.dedent(self.extra).strip()}
"""
        (self.root / "server.ini").write_text(text)
        return self.root / "server.ini"

    # -- process ----------------------------------------------------------
    def start(self) -> RunningAppliance:
        self.write_config()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.log = (self.root / "serve.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "appliance", "serve", "-c", str(self.root)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wanted = set(self.ports)

        def all_started():
            if self.process.poll() is not None:
                raise RuntimeError(f"appliance exited: {(self.root / 'serve.log').read_text()}")
            failed = self.events(20078)
            if failed:
                raise RuntimeError(f"service failed: {failed[0]['message']}")
            started = {e["data"]["service"] for e in self.events(20076)}
            return wanted <= started

        try:
            wait_for(all_started, timeout=60)
        except BaseException:
            self.stop()  # a failed start must not leave the process running
            raise
        return self

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self.log.close()
            return self.process.returncode
        return None

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def __enter__(self) -> RunningAppliance:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what tests look at -------------------------------------------------
    def port(self, service_id: str) -> int:
        return self.ports[service_id]

    def home(self, account: str) -> Path:
        return self.root / "files" / account

    @property
    def database(self) -> Path:
        return self.root / "data" / "audit.db"

    def events(self, *ids: int) -> list[dict]:
        return audit_events(self.database, *ids)

    def wait_event(self, event_id: int, predicate=lambda e: True, timeout: float = 20) -> dict:
        return wait_for(
            lambda: next((e for e in self.events(event_id) if predicate(e)), None), timeout
        )
