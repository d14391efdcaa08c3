"""Active-passive pair end to end in network namespaces: sync, tamper, promote (the DR drill),
a client that trusted the active logs in to the promoted passive, failback.

One scenario, in order, because each step needs the state of the one before; it takes
well under a minute of real work (mostly process starts).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest

from appliance.ha.promote import DrillReport
from appliance.ha.report import format_drill_report
from tests.ha_support import NODES, SFTP_PORT, Lab, sftp_from_client

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("sshd", path="/usr/sbin:/usr/bin"),
    reason="needs root (network namespaces) and openssh-server",
)


def events(lab: Lab, node: str, event_id: int) -> list[dict]:
    database = lab.config(node) / "data" / "audit.db"
    if not database.exists():
        return []
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT data FROM events WHERE id = ?", (event_id,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def status(lab: Lab, node: str) -> dict:
    result = lab.appliance(node, "ha", "status", "-c", str(lab.config(node)), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path)
    try:
        lab.network_up()
        lab.sshd_up()
        for node in NODES:
            lab.write_pair(node)
        lab.write_active_config()
        yield lab
    finally:
        lab.teardown()


def test_sync_promote_and_failback(lab: Lab):
    alpha, beta = str(lab.config("alpha")), str(lab.config("beta"))

    # The passive never serves, whatever starts it.
    refused = lab.appliance("beta", "serve", "-c", beta)
    assert refused.returncode == 1 and "passive" in refused.stderr

    # The active serves; an account is created (a fragment) and a file uploaded over SFTP by a
    # client that learns the service's host key on first use.
    lab.add_account("alpha", "alice")
    active = lab.serve("alpha")
    lab.wait_listening("alpha")
    (lab.root / "report.csv").write_text("quarterly figures\n")
    upload = sftp_from_client(lab, "alpha", f"put {lab.root / 'report.csv'}\n", accept_new=True)
    assert upload.returncode == 0, upload.stderr
    assert (lab.shared / "alice" / "report.csv").read_text() == "quarterly figures\n"

    # Sync: generation 1 with every configuration file; a second sync only confirms it.
    first = lab.appliance("alpha", "ha", "sync", "-c", alpha)
    assert first.returncode == 0, first.stderr
    assert "generation 1 pushed" in first.stdout
    beta_status = status(lab, "beta")
    assert beta_status["role"] == "passive" and beta_status["generation"] == 1
    assert beta_status["copies_match"] is True
    synced = {"server.ini", "server.d/accounts.ini", "keys/ssh_host_ed25519_key",
              "keys/ssh_host_rsa_key", "keys/tls.pem", "keys/ha-probe.pub"}  # fmt: skip
    manifest = json.loads((lab.config("beta") / "data/ha/generations/1/manifest.json").read_text())
    assert {entry["path"] for entry in manifest["files"]} == synced
    assert oct((lab.config("beta") / "keys/ssh_host_rsa_key").stat().st_mode & 0o777) == "0o600"
    again = lab.appliance("alpha", "ha", "sync", "-c", alpha)
    assert "generation 1 unchanged" in again.stdout, again.stdout + again.stderr
    assert status(lab, "alpha")["copies_match"] is True

    # While the active answers, promotion is refused.
    early = lab.appliance("beta", "ha", "promote", "-c", beta)
    assert early.returncode == 1 and f"still answers on port {SFTP_PORT}" in early.stderr

    # The active goes down.
    active.terminate()
    active.wait(30)
    lab.wait_listening("alpha", up=False)

    # A tampered file on the passive is refused at promote, and shows in status.
    host_key = lab.config("beta") / "keys" / "ssh_host_ed25519_key"
    original = host_key.read_bytes()
    host_key.write_bytes(original + b"\n")
    tampered = lab.appliance("beta", "ha", "promote", "-c", beta, "--force")
    assert tampered.returncode == 1
    assert "keys/ssh_host_ed25519_key: SHA-256" in tampered.stderr, tampered.stderr
    assert status(lab, "beta")["copies_match"] is False
    assert events(lab, "beta", 70006), "promotion refusal is in the passive's audit trail"
    assert status(lab, "beta")["services_running"] is False

    # The active's next sync sees the passive's copy differ and pushes generation 2.
    repair = lab.appliance("alpha", "ha", "sync", "-c", alpha)
    assert "generation 2 pushed" in repair.stdout, repair.stdout + repair.stderr
    assert host_key.read_bytes() == original

    # The DR drill.
    promoted = lab.appliance("beta", "ha", "promote", "-c", beta, "--json")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    report = DrillReport(**json.loads(promoted.stdout))
    print("\n" + format_drill_report(report))
    assert report.generation == 2 and report.files_verified == len(synced)
    assert report.first_login_seconds is not None and report.peer_answering == []
    assert events(lab, "beta", 70003) and events(lab, "beta", 70007)

    # The client that trusted the active connects to the passive's address with strict
    # host-key checking, logs in with the same password and finds the file.
    after = sftp_from_client(lab, "beta", "ls\n", accept_new=False)
    assert after.returncode == 0, after.stderr
    assert "report.csv" in after.stdout

    # While promoted, an account is added on beta: failback carries it back to alpha.
    lab.add_account("beta", "carol")
    back = lab.appliance("beta", "ha", "failback", "-c", beta, "--json")
    assert back.returncode == 0, back.stdout + back.stderr
    result = json.loads(back.stdout)
    assert result["generation"] == 3
    assert result["peer_report"]["node"] == "alpha"
    assert result["peer_report"]["first_login_seconds"] is not None
    assert status(lab, "alpha")["role"] == "active" and status(lab, "beta")["role"] == "passive"
    assert status(lab, "beta")["services_running"] is False
    lab.wait_listening("alpha")
    assert not lab.listening("beta")
    carol = sftp_from_client(lab, "alpha", "ls\n", accept_new=False, user="carol")
    assert carol.returncode == 0, carol.stderr
    assert events(lab, "beta", 70009) and events(lab, "alpha", 70004)
