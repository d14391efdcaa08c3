"""One appliance with every file service (FTP, FTPS explicit and implicit, SFTP/SCP, HTTP(S)).

The security tests share it: `security_site(root)` returns a RunningAppliance (not started)
whose accounts are alice (full control, the attacker's own account) and bob (a neighbour
whose home must stay out of reach). `authentications` and `extra` add more methods
(bench/soak.py adds an LDAP one).
"""

from __future__ import annotations

from pathlib import Path

from tests.running import RunningAppliance

PASSWORDS = {"alice": "alice-pw-123", "bob": "bob-pw-456"}
SERVICE_IDS = ("ftp", "ftps", "sftp", "web", "webs")


def services(passive: tuple[int, int], chain: str = "") -> str:
    """Every service's INI; `chain` (e.g. "local, ldap") sets each one's authentications."""
    first, last = passive
    middle = (first + last) // 2
    text = f"""\
[services/ftp]
type = ftp
address = 127.0.0.1
port = {{port}}
passive_port_range = {first}-{middle}

[services/ftps]
type = ftps-implicit
address = 127.0.0.1
port = {{port}}
passive_port_range = {middle + 1}-{last}

[services/sftp]
type = ssh
address = 127.0.0.1
port = {{port}}

[services/web]
type = http
address = 127.0.0.1
port = {{port}}

[services/webs]
type = https
address = 127.0.0.1
port = {{port}}
"""
    if not chain:
        return text
    return text.replace("port = {port}\n", f"port = {{port}}\nauthentications = {chain}\n")


def security_site(
    root: Path,
    *,
    passive: tuple[int, int],
    server_options: str = "",
    authentications: str = "",
    extra: str = "",
) -> RunningAppliance:
    """The appliance; ban_allowlist keeps loopback unbanned unless `server_options` says else.

    `authentications` is every service's chain (default: [server]'s, the local accounts);
    `extra` is more INI text, e.g. the [authentications/<id>] sections that chain names.
    """
    options = server_options or "ban_allowlist = 127.0.0.1/32"
    return RunningAppliance(
        root,
        services(passive, authentications),
        accounts=PASSWORDS,
        extra=extra,
        server_options=options,
    )


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")
