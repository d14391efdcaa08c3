"""The collection as a user gets it: built with `ansible-galaxy collection build`, installed
into an empty collections path outside this repository, and used from there with an
ansible.cfg of the user's own (this repository's ansible.cfg and roles/ play no part).

From the installed collection: the playbooks pass `--syntax-check` by FQCN, `appliance.mft.site`
converges a local target (a temporary prefix, local connection) building the wheel from the
collection's own copy of the sources, `appliance.mft.drift` reports changed=0 on it, and after
hand edits it reports exactly the edited files, with a diff that shows the edit and no secret.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.roles.conftest import REPO, local_target, tool

PLAYBOOKS = ["site", "validate", "drift", "ha", "sync", "promote", "failback", "lb"]
ACCOUNT_PASSWORD = "collection-test-password"


def _run(argv: list[str], cwd: Path, config: Path, timeout: int = 600):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "MOLECULE_"))
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _changed_tasks(output: str) -> list[str]:
    """Names of the tasks that reported `changed` on some host, in order."""
    changed, task = [], None
    for line in output.splitlines():
        heading = re.match(r"TASK \[(.+?)\] \**$", line)
        if heading:
            task = heading[1]
        elif line.startswith("changed:") and task and task not in changed:
            changed.append(task)
    return changed


def _recap(output: str) -> dict[str, int]:
    match = re.search(r"collection-local\s*:\s*ok=(\d+)\s+changed=(\d+).*failed=(\d+)", output)
    assert match, output[-4000:]
    return {"ok": int(match[1]), "changed": int(match[2]), "failed": int(match[3])}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """The collection built from this checkout and installed into an empty path."""
    work = tmp_path_factory.mktemp("collection")
    config = work / "ansible.cfg"
    collections = work / "collections"
    config.write_text(
        "[defaults]\n"
        f"collections_path = {collections}\n"
        "roles_path = /nonexistent\n"
        "interpreter_python = auto_silent\n"
        "retry_files_enabled = false\n"
    )
    build = _run(
        [tool("ansible-galaxy"), "collection", "build", "--output-path", str(work), str(REPO)],
        cwd=work,
        config=config,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    tarballs = list(work.glob("appliance-mft-*.tar.gz"))
    assert len(tarballs) == 1, build.stdout
    install = _run(
        [tool("ansible-galaxy"), "collection", "install", "--offline", "--no-deps",
         "-p", str(collections), str(tarballs[0])],
        cwd=work, config=config,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    root = collections / "ansible_collections" / "appliance" / "mft"
    return {"work": work, "config": config, "root": root}


def test_collection_carries_roles_plugins_playbooks_and_sources(installed):
    root = installed["root"]
    manifest = json.loads((root / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["namespace"] == "appliance"
    assert manifest["collection_info"]["name"] == "mft"
    for path in (
        "plugins/filter/role_vars.py",
        "plugins/filter/ini.py",
        "roles/appliance_service/handlers/main.yml",
        "appliance/cli.py",
        "schemas/roles/appliance.yaml",
        "pyproject.toml",
    ):
        assert (root / path).is_file(), f"{path} is missing from the collection"
    for unwanted in ("tests", "molecule", "bench", ".venv", ".ansible", "ansible.cfg"):
        assert not (root / unwanted).exists(), f"{unwanted} should not be in the collection"
    assert not list(root.glob("roles/*/templates/_ini.j2")), "one INI renderer, the filter"


def test_playbooks_pass_syntax_check_by_fqcn(installed):
    inventory = installed["work"] / "syntax.yml"
    inventory.write_text(
        "all:\n  children:\n    appliances:\n      children:\n        linux_appliances:\n"
        "          hosts:\n            one: {}\n"
    )
    for playbook in PLAYBOOKS:
        result = _run(
            [tool("ansible-playbook"), "-i", str(inventory), "--syntax-check",
             f"appliance.mft.{playbook}"],
            cwd=installed["work"], config=installed["config"],
        )  # fmt: skip
        assert result.returncode == 0, f"appliance.mft.{playbook}: {result.stdout}{result.stderr}"


@pytest.mark.timeout(1200)
def _partner_key() -> tuple[str, str]:
    """A private key (OpenSSH PEM) and a host key line, as a partner's would be."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public


PARTNER_KEY, PARTNER_HOST_KEY = _partner_key()


def test_converge_and_drift_from_the_installed_collection(installed, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the converge writes files owned by root")
    work = installed["work"]
    prefix = tmp_path / "host"
    hashed = subprocess.run(
        [tool("appliance"), "account", "hash"],
        input=ACCOUNT_PASSWORD, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  children:\n    appliances:\n      children:\n        linux_appliances:\n"
        "          hosts:\n            collection-local:\n"
        "              ansible_connection: local\n"
        f"              ansible_python_interpreter: {sys.executable}\n"
    )
    variables = {
        **local_target(prefix, tmp_path / "wheelhouse"),
        "appliance_services": {"sftp": {"type": "ssh", "address": "127.0.0.1", "port": 2022}},
        "appliance_groups": {
            "users": {
                "home_folder_path": f"{prefix}/srv/appliance/${{USER}}",
                "permissions": "allow-full-control",
            },
        },  # fmt: skip
        "appliance_accounts": {"partner": {"groups": "users", "password": hashed}},
        "appliance_ldap_enabled": False,
        # A client transfer to a partner's SFTP server, its key from the "vault".
        "appliance_transfers_locations": {
            "outbox": {"type": "local", "path": f"{prefix}/srv/appliance"},
            "partner-sftp": {
                "type": "sftp",
                "address": "192.0.2.10",
                "username": "acme",
                "host_key": PARTNER_HOST_KEY,
            },
        },
        "appliance_transfers_definitions": {
            "to-partner": {
                "source": "outbox",
                "destination": "partner-sftp",
                "destination_path": "inbound",
                "trigger": "event",
            },
        },
        "appliance_transfers_credentials": {"partner-sftp": {"private_key": PARTNER_KEY}},
    }
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))

    def playbook(name: str):
        return _run(
            [tool("ansible-playbook"), "-i", str(inventory), "-e", f"@{extra}",
             f"appliance.mft.{name}"],
            cwd=work, config=installed["config"],
        )  # fmt: skip

    converge = playbook("site")
    assert converge.returncode == 0, converge.stdout[-8000:] + converge.stderr[-3000:]
    config = prefix / "etc" / "appliance"
    server_ini = config / "server.ini"
    assert "[accounts/partner]" in server_ini.read_text()
    transfers = (config / "server.d" / "40-transfers.ini").read_text()
    key_file = config / "keys" / "transfers" / "partner-sftp.key"
    assert f"private_key = {key_file}" in transfers and "[transfers/to-partner]" in transfers
    assert "PRIVATE KEY" not in transfers and "PRIVATE KEY" not in converge.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o640
    link = prefix / "usr" / "local" / "bin" / "appliance"
    assert link.is_symlink() and os.access(link, os.X_OK), "appliance is not on PATH"

    clean = playbook("drift")
    assert clean.returncode == 0, clean.stdout[-8000:] + clean.stderr[-3000:]
    assert _recap(clean.stdout)["changed"] == 0, _changed_tasks(clean.stdout)

    # Hand edits: a changed option in server.ini, a private key made world-readable, and a
    # fragment no role writes.
    text = server_ini.read_text()
    server_ini.write_text(text.replace("port = 2022", "port = 2023"))
    (config / "keys" / "tls.pem").chmod(0o644)
    (config / "server.d" / "99-by-hand.ini").write_text("[groups/extra]\n")
    drifted = playbook("drift")
    assert drifted.returncode == 0, drifted.stdout[-8000:] + drifted.stderr[-3000:]
    changed = _changed_tasks(drifted.stdout)
    assert changed == [
        "appliance.mft.appliance_pki : Install the TLS PEM (key, then chain)",
        "appliance.mft.appliance : Install server.ini once appliance validate accepts it",
        "Report fragments that no role manages",
    ], changed
    shown = drifted.stdout
    assert "-port = 2023" in shown and "+port = 2022" in shown, shown[-6000:]
    assert "99-by-hand.ini" in shown, shown[-6000:]
    # Nothing secret in what an auditor reads: no hash, no key material.
    assert hashed not in drifted.stdout and "$argon2" not in drifted.stdout
    assert "PRIVATE KEY" not in drifted.stdout
    assert server_ini.read_text() != text, "drift must not change anything"
