"""External post-processing (anti-virus and the like): run a program on each file, no shell.

The program gets the file's path as its last argument and the event in its environment;
exit status 0 passes the file on, anything else (or a timeout) quarantines it. What it
printed is kept in the event.
"""

from __future__ import annotations

import os
import subprocess

from appliance.config import Section
from appliance.runtime.events.bus import EventBus
from appliance.runtime.handlers.base import FileHandler
from appliance.runtime.handlers.job import FileJob, Outcome

OUTPUT_LIMIT = 4096


class ExternalCommand(FileHandler):
    def __init__(self, section: Section, bus: EventBus) -> None:
        super().__init__(section, bus)
        self.command = str(section.path("command"))
        self.arguments: list[str] = section.options.get("arguments") or []
        self.timeout: int = section["timeout"]

    def _environment(self, job: FileJob) -> dict[str, str]:
        return {
            **os.environ,
            "APPLIANCE_FILE": str(job.real_path),
            "APPLIANCE_PATH": job.path,
            "APPLIANCE_ACCOUNT": job.account or "",
            "APPLIANCE_PEER": job.peer or "",
            "APPLIANCE_EVENT": job.event.to_json(),
        }

    def process(self, job: FileJob) -> Outcome:
        argv = [self.command, *self.arguments, str(job.real_path)]
        try:
            run = subprocess.run(
                argv,
                env=self._environment(job),
                capture_output=True,
                timeout=self.timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return self.quarantine(job, f"{self.command} did not finish in {self.timeout} s")
        output = {
            "exit_status": run.returncode,
            "stdout": run.stdout[-OUTPUT_LIMIT:].decode(errors="replace"),
            "stderr": run.stderr[-OUTPUT_LIMIT:].decode(errors="replace"),
        }
        if run.returncode == 0:
            return Outcome(True, f"{self.command} passed: {output['stdout'].strip()[:200]}")
        return self.quarantine(
            job,
            f"{self.command} exited with status {run.returncode}: {output['stdout'].strip()[:200]}",
            details=output,
        )
