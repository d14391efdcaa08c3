"""File transfers over HTTP: streamed downloads with Range, streamed atomic uploads.

Downloads are read and sent in 1 MiB chunks from the event loop (measured: small chunks
cost most of the throughput). Uploads are streamed to the VirtualFS write handle (a hidden
temporary file) and committed only when the whole body arrived; the 201 answer is sent
after commit(), so the durable upload event (20050) precedes it.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
import sys
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from appliance.runtime.fs.vfs import FileInfo
from appliance.runtime.services.http.auth import Caller

CHUNK = 1 << 20
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_MAX_POSITION_DIGITS = 18


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


@dataclass(frozen=True)
class ByteRange:
    start: int
    length: int
    partial: bool


def _position(digits: str) -> int:
    """A byte position; one too long for any file counts as "beyond the end" (int() of
    thousands of digits would raise, and no file is that large anyway)."""
    return int(digits) if len(digits) <= _MAX_POSITION_DIGITS else sys.maxsize


def byte_range(header: str | None, size: int) -> ByteRange:
    """The one range a `Range` header asks for; the whole file for none or several."""
    match = _RANGE.match(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return ByteRange(0, size, False)
    first, last = match.groups()
    if first == "":
        start = max(size - _position(last), 0)
        end = size - 1
    else:
        start = _position(first)
        end = min(_position(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, end - start + 1, True)


def content_disposition(name: str) -> str:
    """Always an attachment (never shown inline); the ASCII fallback has no quote or control."""
    ascii_name = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def download_headers(info: FileInfo, wanted: ByteRange) -> dict[str, str]:
    content_type = mimetypes.guess_type(info.name)[0] or "application/octet-stream"
    headers = {
        "content-type": content_type,
        "content-length": str(wanted.length),
        "accept-ranges": "bytes",
        "content-disposition": content_disposition(info.name),
        "last-modified": formatdate(info.mtime, usegmt=True),
    }
    if wanted.partial:
        end = wanted.start + wanted.length - 1
        headers["content-range"] = f"bytes {wanted.start}-{end}/{info.size}"
    return headers


class FileDownload(Response):
    """A response streaming `length` bytes of a ReadHandle, closing it with the outcome."""

    def __init__(self, handle, status: int, headers: dict[str, str], length: int) -> None:
        super().__init__(status_code=status, headers=headers)
        self.handle = handle
        self.length = length

    async def __call__(self, scope, receive, send) -> None:
        gone = asyncio.Event()
        watcher = asyncio.ensure_future(_watch_disconnect(receive, gone))
        sent = 0
        try:
            start = {"status": self.status_code, "headers": self.raw_headers}
            await send({"type": "http.response.start", **start})
            while sent < self.length and not gone.is_set():
                data = self.handle.read(min(CHUNK, self.length - sent))
                if not data:
                    break
                sent += len(data)
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            complete = sent == self.length and not gone.is_set()
            reason = "" if complete else "the client went away"
            self.handle.close(complete, bytes_sent=sent, reason=reason)


async def _watch_disconnect(receive, gone: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


def emit_access(caller: Caller, method: str, path: str) -> None:
    """Event 40007: an HTTP file access starts."""
    fs = caller.fs
    fs.bus.emit(
        40007, fs.component, account=caller.account.name, peer=fs.peer, method=method, path=path
    )


async def open_download(caller: Caller, info: FileInfo, range_header: str | None) -> FileDownload:
    """Open the file and build its response; raises RangeNotSatisfiable or an FSError."""
    wanted = byte_range(range_header, info.size)
    emit_access(caller, "GET", info.path)
    handle = await run_in_threadpool(caller.fs.open_read, info.path, wanted.start)
    status = 206 if wanted.partial else 200
    return FileDownload(handle, status, download_headers(info, wanted), wanted.length)


async def download(caller: Caller, info: FileInfo, range_header: str | None) -> Response:
    """The file's download response, or 416 when the range lies outside it."""
    try:
        return await open_download(caller, info, range_header)
    except RangeNotSatisfiable as unsatisfiable:
        return Response(status_code=416, headers={"content-range": f"bytes */{unsatisfiable.size}"})


async def receive_upload(caller: Caller, path: str, request: Request) -> str:
    """Stream the request body into `path`; returns the stored virtual path after commit.

    Each 1 MiB is written by a worker thread while the loop already receives the next one.
    """
    handle = await run_in_threadpool(caller.fs.open_write, path)
    emit_access(caller, "PUT", handle.path)
    buffer = bytearray()
    writing: asyncio.Future | None = None
    try:
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) >= CHUNK:
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(asyncio.to_thread(handle.write, bytes(buffer)))
                buffer.clear()
        if writing is not None:
            await writing
        if buffer:
            handle.write(bytes(buffer))
    except ClientDisconnect:
        await _settle(writing)
        handle.abort("the client went away before the whole file arrived")
        raise
    except BaseException as error:
        await _settle(writing)
        handle.abort(f"the upload failed: {error}")
        raise
    return await run_in_threadpool(handle.commit)


async def _settle(writing: asyncio.Future | None) -> None:
    """Let a write in flight finish (or fail) before the handle is aborted."""
    if writing is not None:
        await asyncio.gather(writing, return_exceptions=True)
