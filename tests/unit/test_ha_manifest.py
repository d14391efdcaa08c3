"""HA without a network: ha.ini validation, the file list derived from the config, manifests."""

from __future__ import annotations

import dataclasses
import os
import textwrap

import pytest

from appliance.config import ConfigError, load_config
from appliance.ha.files import configuration_files
from appliance.ha.manifest import Manifest, ManifestError, build_manifest, verify
from appliance.ha.pair import check_pair, load_pair
from tests.ssh_support import client_key

SERVER = """\
[server]
ssh_server_keys = keys/ssh_host_ed25519_key
tls_private_certificate = keys/tls.pem

[services/sftp]
type = ssh
address = 0.0.0.0
port = 2022

[accounts/robot]
ssh_authorized_keys_path = keys/robot.pub

[event-handlers/audit]
type = sqlite
path = data/audit.db
"""


def pair_text(**overrides: str) -> str:
    ha = {
        "node": "alpha",
        "primary": "alpha",
        "sync_private_key": "sync_key",
        "sync_known_hosts": "known_hosts",
    } | overrides
    lines = ["[ha]", *(f"{key} = {value}" for key, value in ha.items()), ""]
    for node, address in (("alpha", "10.0.0.1"), ("beta", "10.0.0.2")):
        lines += [f"[nodes/{node}]", f"address = {address}", "config_folder = /etc/appliance", ""]
    return "\n".join(lines)


@pytest.fixture
def folder(config_dir):
    folder = config_dir(SERVER, fragments={"accounts.ini": "[accounts/alice]\n"})
    (folder / "keys" / "robot.pub").write_text(client_key(folder / "robot").public_line + "\n")
    for name in ("sync_key", "known_hosts"):
        (folder / name).write_text("x\n")
    return folder


def test_pair_loads_this_node_and_its_peer(folder):
    (folder / "ha.ini").write_text(pair_text())
    pair = load_pair(folder)
    assert (pair.this.id, pair.peer.id, pair.peer.ssh_port) == ("alpha", "beta", 22)
    assert pair.state_folder == folder / "data" / "ha"
    assert pair.peer_state_folder() == "/etc/appliance/data/ha"
    assert pair.peer.appliance("ha", "accept", "-c", "/a b") == "appliance ha accept -c '/a b'"


def test_pair_errors_name_file_section_and_option(folder):
    (folder / "ha.ini").write_text(pair_text(node="gamma", max_staleness="soon"))
    problems = [str(problem) for problem in check_pair(folder)]
    assert any(":ha:node: refers to [nodes/gamma]" in problem for problem in problems), problems
    assert any(":ha:max_staleness: expected a whole number" in p for p in problems), problems
    (folder / "ha.ini").write_text(pair_text().replace("[nodes/beta]", "[nodes/beta]\nport = 1"))
    assert any("nodes/beta:port: unknown option" in str(p) for p in check_pair(folder))


def test_check_pair_reads_a_candidate_as_if_installed(folder, tmp_path):
    """Ansible validates a temporary copy: relative key paths must resolve at the destination,
    and problems name the destination."""
    candidate = tmp_path / "elsewhere" / "ansible-tmp-candidate"
    candidate.parent.mkdir()
    candidate.write_text(pair_text())
    assert not (folder / "ha.ini").exists()
    assert check_pair(folder / "ha.ini", candidate=candidate) == []
    assert check_pair(candidate), "the same text is not valid where its key paths do not exist"
    candidate.write_text(pair_text(max_staleness="soon"))
    problems = [str(p) for p in check_pair(folder / "ha.ini", candidate=candidate)]
    assert problems and all(p.startswith(f"{folder / 'ha.ini'}:") for p in problems), problems


def test_files_come_from_every_readable_file_option(folder):
    config = load_config(folder)
    names = {path.relative_to(folder).as_posix() for path in configuration_files(config)}
    assert names == {
        "server.ini",
        "server.d/accounts.ini",
        "keys/ssh_host_ed25519_key",
        "keys/tls.pem",
        "keys/robot.pub",
    }


def test_verify_finds_tampering_modes_and_stray_fragments(folder):
    files = configuration_files(load_config(folder))
    manifest = build_manifest(folder, files, generation=1, source_node="alpha", created="now")
    assert verify(manifest, folder) == []
    (folder / "keys" / "tls.pem").write_bytes(b"forged")
    (folder / "keys" / "robot.pub").chmod(0o666)
    (folder / "server.d" / "extra.ini").write_text("[accounts/mallory]\n")
    problems = {str(mismatch) for mismatch in verify(manifest, folder)}
    assert any(p.startswith("keys/tls.pem: SHA-256 is") for p in problems), problems
    assert any(p.startswith("keys/robot.pub: mode is 0666") for p in problems), problems
    assert any(p.startswith("server.d/extra.ini: fragment not in") for p in problems), problems


def test_manifest_round_trips_and_refuses_unsafe_paths(folder):
    files = configuration_files(load_config(folder))
    manifest = build_manifest(folder, files, generation=4, source_node="alpha", created="now")
    assert Manifest.from_json(manifest.to_json()) == manifest
    edited = manifest.to_json().replace(b'"keys/tls.pem"', b'"keys/other.pem"')
    with pytest.raises(ManifestError, match="digest"):
        Manifest.from_json(edited)
    climbing = dataclasses.replace(manifest.entries[0], path="../../etc/shadow")
    evil = dataclasses.replace(manifest, entries=(climbing,))
    with pytest.raises(ManifestError, match="unsafe path"):
        Manifest.from_json(evil.to_json())


def test_invalid_config_is_never_synced(folder):
    (folder / "server.ini").write_text(textwrap.dedent(SERVER) + "\n[services/broken]\n")
    with pytest.raises(ConfigError):
        load_config(folder)


def test_serve_guard_needs_only_the_role_not_the_sync_keys(folder):
    """`appliance serve` runs as the runtime's account, which may not read the sync
    transport's private key: its passive check must not stumble on the key files."""
    from appliance.ha.guard import passive_refusal

    (folder / "ha.ini").write_text(pair_text(node="beta"))
    (folder / "sync_key").unlink()
    assert check_pair(folder), "the full check still wants the key"
    refusal = passive_refusal(folder)
    assert refusal is not None and "passive node" in refusal, refusal


def test_unenterable_key_folder_is_a_problem_not_a_traceback(folder, monkeypatch):
    import pathlib

    (folder / "ha.ini").write_text(pair_text())
    real_is_file = pathlib.Path.is_file

    def is_file(path):
        if path.name == "sync_key":
            raise PermissionError(13, "Permission denied")
        return real_is_file(path)

    monkeypatch.setattr(pathlib.Path, "is_file", is_file)
    problems = [str(problem) for problem in check_pair(folder)]
    assert any(
        ":ha:sync_private_key:" in p and "cannot be checked: Permission denied" in p
        for p in problems
    ), problems


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_audit_files_an_ha_command_creates_belong_to_the_folder_owner(folder):
    """HA commands run as root; the runtime (its own account) must still write the audit."""
    from appliance.ha.audit import event_bus

    data = folder / "data"
    data.mkdir(exist_ok=True)
    os.chown(data, 65534, 65534)
    with event_bus(folder) as bus:
        bus.emit(70001, "ha", generation=1, peer_node="beta", files=1)
    database = data / "audit.db"
    assert database.exists()
    assert (database.stat().st_uid, database.stat().st_gid) == (65534, 65534)
