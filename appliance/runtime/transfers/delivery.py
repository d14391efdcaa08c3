"""Deliver one queued file, exactly once, never showing a partial file under its final name.

1. A file whose earlier attempt may have got as far as the rename (attempt > 1, a crash or
   a stop included) is first looked for under its final name: there with the expected size,
   it counts as delivered and is not sent again.
2. Data goes to a hidden temporary name in the destination folder
   (`.transfer-<transfer>-<queue id>.part`, `.~transfer-...` in a local folder; the same
   name at every attempt, so a retry replaces a stale one), its size is checked, then it is
   renamed to the final name and the final size is checked again. `temporary_name = no`
   writes the final name directly, for servers that cannot rename.
3. Only then is the source kept, deleted or archived (`after`); the caller records `done`
   last, so a crash anywhere before that leads back to step 1.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from appliance.runtime.transfers.location import LocationSession, join
from appliance.runtime.transfers.queue import QueuedFile
from appliance.runtime.transfers.settings import TransferPlan

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
SENT, FOUND_DELIVERED = "sent", "found-delivered"


class TransferError(OSError):
    """This attempt failed; it may be retried."""


class PermanentTransferError(TransferError):
    """Retrying cannot help (the source file is gone)."""


class SourceChanged(TransferError):
    """The source file is not the one queued any more: its new version is queued anew."""


@dataclass(frozen=True)
class Delivery:
    bytes: int
    sha256: str
    duration: float
    how: str
    """`sent`, or `found-delivered` when an interrupted attempt had already renamed it."""


def temporary_name(plan: TransferPlan, record: QueuedFile, destination: LocationSession) -> str:
    return f"{destination.temporary_prefix}{plan.id}-{record.id}.part"


def final_name(plan: TransferPlan, record: QueuedFile) -> str:
    return join(plan.destination_path, record.name)


async def deliver(
    plan: TransferPlan, record: QueuedFile, source: LocationSession, destination: LocationSession
) -> Delivery:
    started = time.monotonic()
    final = final_name(plan, record)
    source_size = await source.size_of(record.source_path)
    if record.attempts > 1 and await destination.size_of(final) == record.size:
        digest = await _digest(source, plan, record) if source_size == record.size else ""
        await apply_after(plan, record, source, present=source_size is not None)
        return Delivery(record.size, digest, time.monotonic() - started, FOUND_DELIVERED)
    if source_size is None:
        raise PermanentTransferError("the source file is gone")
    if source_size != record.size:
        raise SourceChanged(
            f"the source file changed since it was queued ({source_size} bytes, "
            f"expected {record.size})"
        )
    digest = await _send(plan, record, source, destination)
    await apply_after(plan, record, source, present=True)
    return Delivery(record.size, digest, time.monotonic() - started, SENT)


async def _send(
    plan: TransferPlan, record: QueuedFile, source: LocationSession, destination: LocationSession
) -> str:
    final = final_name(plan, record)
    target = (
        join(plan.destination_path, temporary_name(plan, record, destination))
        if plan.temporary_name
        else final
    )
    await destination.make_folders(plan.destination_path)
    digest = hashlib.sha256()
    sent = 0
    try:
        async with (
            source.open_read(record.source_path) as reader,
            destination.open_write(target) as writer,
        ):
            while chunk := await reader.read(CHUNK):
                digest.update(chunk)
                await writer.write(chunk)
                sent += len(chunk)
        if sent != record.size:
            raise TransferError(f"read {sent} bytes of the source, expected {record.size}")
        await _check_size(destination, target, sent)
        if target != final:
            await destination.rename(target, final)
    except BaseException:
        if target != final:
            await _discard(destination, target)
        raise
    await _check_size(destination, final, sent)
    return digest.hexdigest()


async def _check_size(session: LocationSession, path: str, expected: int) -> None:
    found = await session.size_of(path)
    if found != expected:
        raise TransferError(f"{path} has {found} bytes at the destination, expected {expected}")


async def _discard(session: LocationSession, path: str) -> None:
    try:
        if await session.size_of(path) is not None:
            await session.remove(path)
    except Exception as error:  # best effort: the next attempt replaces it; the name is hidden
        log.debug("could not remove the temporary file %s: %s", path, error)


async def _digest(source: LocationSession, plan: TransferPlan, record: QueuedFile) -> str:
    digest = hashlib.sha256()
    async with source.open_read(record.source_path) as reader:
        while chunk := await reader.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def apply_after(
    plan: TransferPlan, record: QueuedFile, source: LocationSession, *, present: bool
) -> None:
    """keep, delete or archive the source file once it is delivered."""
    if plan.after == "keep" or not present:
        return
    path = record.source_path
    if plan.after == "delete":
        await source.remove(path)
    else:
        await source.make_folders(plan.archive_path)
        await source.rename(path, join(plan.archive_path, record.name))
