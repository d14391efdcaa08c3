"""Quarantine: move a file out of every home folder, with the reason recorded next to it."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

from appliance.runtime.events.bus import EventBus
from appliance.runtime.handlers.job import FileJob

REASON_SUFFIX = ".reason.json"


def quarantine(
    job: FileJob,
    folder: Path,
    *,
    handler: str,
    reason: str,
    bus: EventBus,
    details: dict | None = None,
) -> Path:
    """Move the job's file into `folder`; write `<name>.reason.json`; emit 50003."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{stamp}-{uuid.uuid4().hex[:8]}-{job.real_path.name}"
    shutil.move(str(job.real_path), str(target))
    record = {
        "handler": handler,
        "reason": reason,
        "original_path": job.path,
        "original_real_path": str(job.real_path),
        "account": job.account,
        "peer": job.peer,
        "time": stamp,
        "event_uuid": job.event.uuid,
        **(details or {}),
    }
    target.with_name(target.name + REASON_SUFFIX).write_text(
        json.dumps(record, indent=2, sort_keys=True), encoding="utf-8"
    )
    bus.emit(
        50003,
        f"event-handlers/{handler}",
        account=job.account,
        peer=job.peer,
        handler=handler,
        path=job.path,
        quarantine_path=str(target),
        reason=reason,
    )
    return target
