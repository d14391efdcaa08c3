"""An appliance with the HTTP service types, for the HTTP integration tests.

Services: `web` (http), `webs` (https, accepted_origins and a trusted forwarded header),
`redir` (http-redirect to webs). Accounts: alice (full control), bob (list and read only).
"""

from __future__ import annotations

from pathlib import Path

from appliance.runtime.aaa.passwords import hash_password_scrypt
from tests.helpers import free_port
from tests.running import RunningAppliance

PORTAL = "https://portal.example"


def http_appliance(root: Path, server_options: str = "") -> RunningAppliance:
    https_port = free_port()
    services = f"""\
        [services/web]
        type = http
        address = 127.0.0.1
        port = {{port}}
        client_forwarded_header = x-forwarded-for

        [services/webs]
        type = https
        address = 127.0.0.1
        port = {{port}}
        accepted_origins = {PORTAL}
        client_forwarded_header = x-forwarded-for
        trusted_proxies = 127.0.0.1/32

        [services/redir]
        type = http-redirect
        address = 127.0.0.1
        port = {{port}}
        redirect_to_port = {https_port}
        """
    extra = f"""\
        [groups/readers]
        home_folder_path = files/${{USER}}
        permissions = allow-list, allow-read

        [accounts/bob]
        groups = readers
        password = {hash_password_scrypt("bob-pw", n=2**12)}
        """
    app = RunningAppliance(
        root, services, accounts={"alice": "alice-pw"}, extra=extra, server_options=server_options
    )
    app.ports["webs"] = https_port
    return app


def base_url(app: RunningAppliance, service: str = "web") -> str:
    scheme = "https" if service == "webs" else "http"
    return f"{scheme}://127.0.0.1:{app.port(service)}"
