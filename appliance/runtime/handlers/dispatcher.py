"""The file dispatcher: move or copy uploaded files by ordered rules (Inbox to Outbox).

The destination never shows a partial file: data goes to `<name><destination_temporary_suffix>`
and is renamed into place. A failing rule is retried `retry_count` times `retry_wait`
seconds apart, then reported (50002); the file stays where it was.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from appliance.config import Section
from appliance.runtime.events.bus import EventBus
from appliance.runtime.handlers.base import FileHandler
from appliance.runtime.handlers.dispatch_rules import (
    DispatchRule,
    parse_rules,
    render_destination,
)
from appliance.runtime.handlers.job import FileJob, Outcome


class DispatchError(OSError):
    pass


class FileDispatcher(FileHandler):
    def __init__(self, section: Section, bus: EventBus) -> None:
        super().__init__(section, bus)
        self.rules: list[DispatchRule] = parse_rules(section["dispatch_rules"])
        self.create_destination_folder: bool = section["create_destination_folder"]
        self.overwrite_rule: str = section["overwrite_rule"]
        self.retry_count: int = section["retry_count"]
        self.retry_wait: float = section["retry_wait"]
        self.temporary_suffix: str = section["destination_temporary_suffix"]
        self.base = section.source.parent

    def process(self, job: FileJob) -> Outcome:
        for rule in self.rules:
            groups = rule.match(job.path)
            if groups is None:
                continue
            if rule.action == "ignore":
                return Outcome(True, f"ignored by rule {rule.expression.expression}")
            return self._with_retries(
                lambda rule=rule, groups=groups: self._apply(rule, groups, job)
            )
        return Outcome(True, "no dispatch rule matched")

    def _with_retries(self, attempt) -> Outcome:
        for tries_left in range(self.retry_count, -1, -1):
            try:
                return attempt()
            except OSError as error:
                if tries_left == 0:
                    raise DispatchError(f"{error} (after {self.retry_count} retries)") from error
                self.bus.emit(
                    50004,
                    self.component,
                    handler=self.id,
                    error=str(error),
                    retry_in=self.retry_wait,
                    tries_left=tries_left,
                )
                time.sleep(self.retry_wait)
        raise AssertionError("unreachable")

    def _apply(self, rule: DispatchRule, groups: tuple[str, ...], job: FileJob) -> Outcome:
        if rule.action == "delete":
            job.real_path.unlink()
            return Outcome(True, "deleted", files=())
        fields = {"account": job.account, "data": {**job.event.data, "file_name": job.file_name}}
        folders = [self._folder(render_destination(d, groups, fields)) for d in rule.destinations]
        name = job.real_path.name
        if rule.action == "move-with-timestamp":
            stem, dot, suffix = name.rpartition(".")
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            name = f"{stem}-{stamp}.{suffix}" if dot and stem else f"{name}-{stamp}"
        placed = [self._place_copy(job.real_path, folder, name) for folder in folders]
        moved = []
        if rule.action != "copy":
            job.real_path.unlink()
            moved = [job.moved_to(target) for target in placed]
        return Outcome(
            True,
            f"{rule.action} to {', '.join(str(p) for p in placed)}",
            files=tuple(moved) or (job,),
        )

    def _folder(self, destination: str) -> Path:
        folder = Path(destination)
        folder = folder if folder.is_absolute() else self.base / folder
        if not folder.is_dir():
            if not self.create_destination_folder:
                raise DispatchError(f"destination folder {folder} does not exist")
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _place_copy(self, source: Path, folder: Path, name: str) -> Path:
        """Copy into `folder` under a temporary name, then rename into place."""
        target = self._final_name(folder / name)
        temporary = target.with_name(target.name + self.temporary_suffix)
        try:
            with source.open("rb") as reader, temporary.open("xb") as writer:
                shutil.copyfileobj(reader, writer, 1024 * 1024)
                writer.flush()
                os.fsync(writer.fileno())
            shutil.copystat(source, temporary)
            if self.overwrite_rule == "overwrite":
                os.replace(temporary, target)
            else:
                _rename_no_replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return target

    def _final_name(self, target: Path) -> Path:
        if not target.exists() or self.overwrite_rule == "overwrite":
            return target
        if self.overwrite_rule == "fail":
            raise FileExistsError(f"{target} already exists (overwrite_rule = fail)")
        for n in range(1, 10_000):
            candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
            if not candidate.exists():
                return candidate
        raise FileExistsError(f"no free name for {target}")


def _rename_no_replace(source: Path, target: Path) -> None:
    """Rename, failing if the target appeared meanwhile (link+unlink where links exist)."""
    try:
        os.link(source, target)
    except (AttributeError, NotImplementedError, PermissionError):
        if target.exists():
            raise FileExistsError(f"{target} already exists") from None
        os.rename(source, target)  # Windows: rename refuses to replace an existing file
        return
    source.unlink()
