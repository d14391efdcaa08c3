"""What every file handler shares: its trigger, its run with events, its quarantine."""

from __future__ import annotations

import logging
from pathlib import Path

from appliance.config import Section
from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.event import Event
from appliance.runtime.events.filters import EventFilter
from appliance.runtime.handlers.job import FileJob, Outcome
from appliance.runtime.handlers.quarantine import quarantine

log = logging.getLogger(__name__)

UPLOAD_COMPLETED = 20050
HANDLER_SUCCEEDED = 50001
HANDLER_FAILED = 50002


class FileHandler:
    """Subclasses implement `process(job) -> Outcome`; raising means failure (event 50002)."""

    def __init__(self, section: Section, bus: EventBus) -> None:
        self.id = section.id
        self.section = section
        self.bus = bus
        self.component = f"event-handlers/{section.id}"
        self.after = section.options.get("after")
        options = dict(section.options)
        if not self.after and not options.get("target"):
            options["target"] = [str(UPLOAD_COMPLETED)]
        self.filter = EventFilter.from_options(options)
        folder = section.path("quarantine_folder")
        self.quarantine_folder: Path | None = folder

    def triggered_by(self, event: Event) -> bool:
        if self.after:
            return (
                event.id == HANDLER_SUCCEEDED
                and event.data.get("handler") == self.after
                and self.filter.matches(event)
            )
        return self.filter.matches(event) and event.id != HANDLER_SUCCEEDED

    def run(self, event: Event) -> None:
        job = FileJob.from_event(event)
        if job is None or not job.real_path.is_file():
            return
        try:
            outcome = self.process(job)
        except Exception as error:  # reported, never lost: the file stays where it is
            log.debug("handler %s failed", self.id, exc_info=True)
            self.bus.emit(
                HANDLER_FAILED,
                self.component,
                account=job.account,
                peer=job.peer,
                handler=self.id,
                path=job.path,
                real_path=str(job.real_path),
                error=f"{error.__class__.__name__}: {error}",
            )
            return
        if outcome.passed:
            for moved in outcome.files or (job,):
                self.bus.emit(
                    HANDLER_SUCCEEDED,
                    self.component,
                    account=moved.account,
                    peer=moved.peer,
                    handler=self.id,
                    path=moved.path,
                    real_path=str(moved.real_path),
                    result=outcome.result,
                )

    def process(self, job: FileJob) -> Outcome:
        raise NotImplementedError

    def quarantine(self, job: FileJob, reason: str, details: dict | None = None) -> Outcome:
        target = quarantine(
            job,
            self.quarantine_folder,
            handler=self.id,
            reason=reason,
            bus=self.bus,
            details=details,
        )
        return Outcome(False, f"quarantined as {target.name}: {reason}")
