"""ssh-audit against the SSH service: no failure (warnings are reported, not failed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.security.site import PASSWORDS
from tests.ssh_support import account_section, ssh_appliance

# ssh-audit comes with the test extra, in the virtualenv that runs pytest (not always on PATH).
SSH_AUDIT = Path(sys.executable).parent / "ssh-audit"


def failures(report: dict) -> list[str]:
    found = [f"{kind} {item['algorithm']}: {item['notes']['fail']}"
             for kind in ("kex", "key", "enc", "mac") for item in report.get(kind, [])
             if item.get("notes", {}).get("fail")]  # fmt: skip
    found += [f"CVE {cve.get('name')}" for cve in report.get("cves", [])]
    return found


def test_ssh_audit_reports_no_failure(tmp_path):
    assert SSH_AUDIT.exists(), f"{SSH_AUDIT} is missing; expected it from pyproject's test extra"
    accounts = account_section("alice", password=PASSWORDS["alice"])
    with ssh_appliance(tmp_path, accounts) as app:
        result = subprocess.run(
            [str(SSH_AUDIT), "--json", "--skip-rate-test",
             "-p", str(app.port("sftp")), "127.0.0.1"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["kex"], result.stderr
    assert failures(report) == []
    # the RSA host key is still offered, with SHA-2 signatures
    assert {"rsa-sha2-512", "rsa-sha2-256", "ssh-ed25519"} <= {
        k["algorithm"] for k in report["key"]
    }
