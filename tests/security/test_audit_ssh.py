"""ssh-audit against the SSH service: no failure (warnings are reported, not failed)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.security.site import PASSWORDS
from tests.ssh_support import account_section, ssh_appliance

pytestmark = pytest.mark.skipif(shutil.which("ssh-audit") is None, reason="pip install ssh-audit")


def failures(report: dict) -> list[str]:
    found = [f"{kind} {item['algorithm']}: {item['notes']['fail']}"
             for kind in ("kex", "key", "enc", "mac") for item in report.get(kind, [])
             if item.get("notes", {}).get("fail")]  # fmt: skip
    found += [f"CVE {cve.get('name')}" for cve in report.get("cves", [])]
    return found


def test_ssh_audit_reports_no_failure(tmp_path):
    accounts = account_section("alice", password=PASSWORDS["alice"])
    with ssh_appliance(tmp_path, accounts) as app:
        result = subprocess.run(
            ["ssh-audit", "--json", "--skip-rate-test", "-p", str(app.port("sftp")), "127.0.0.1"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["kex"], result.stderr
    assert failures(report) == []
    # the RSA host key is still offered, with SHA-2 signatures
    assert {"rsa-sha2-512", "rsa-sha2-256", "ssh-ed25519"} <= {
        k["algorithm"] for k in report["key"]
    }
