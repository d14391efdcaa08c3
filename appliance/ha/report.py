"""The drill report printed by `appliance ha promote`: what was promoted, how stale, how fast."""

from __future__ import annotations

from dataclasses import asdict

from appliance.ha.promote import DrillReport


def drill_report_dict(report: DrillReport) -> dict:
    return asdict(report)


def format_drill_report(report: DrillReport) -> str:
    answering = ", ".join(str(port) for port in report.peer_answering) or "none"
    if report.first_login_seconds is not None:
        login = (
            f"{report.first_login_seconds:.3f} s after the command "
            f"({report.login['account']}@{report.login['address']}:{report.login['port']}, "
            f"host key {report.login['host_key']})"
        )
    else:
        login = report.login_error
    return "\n".join(
        [
            f"DR drill report: node {report.node} promoted to active",
            f"  generation promoted   {report.generation} (from {report.source_node}, "
            f"digest {report.digest[:16]})",
            f"  manifest              {report.files_verified} files verified",
            f"  staleness of the copy {report.staleness_seconds:.1f} s "
            f"(max_staleness {report.max_staleness} s)",
            f"  other node answering  {answering} (checked {report.peer_address})",
            f"  forced                {'yes' if report.forced else 'no'}",
            f"  services started      {report.services_started_seconds:.3f} s after the command",
            f"  first SFTP login      {login}",
        ]
    )
