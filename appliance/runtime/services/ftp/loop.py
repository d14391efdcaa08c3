"""pyftpdlib's IOLoop in a thread of its own, with a thread-safe way in and a worker pool.

pyftpdlib is single-threaded: only the loop thread may touch its sockets and handlers. Other
threads (the supervisor's asyncio loop, workers running blocking AAA calls) hand work back
with `call_soon`, which wakes the loop through a socket pair.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from pyftpdlib.ioloop import AsyncChat, IOLoop

log = logging.getLogger(__name__)
logging.getLogger("pyftpdlib").addHandler(logging.NullHandler())
logging.getLogger("pyftpdlib").setLevel(logging.WARNING)


class _Waker(AsyncChat):
    """The read end of a socket pair in the loop: a byte written to it runs queued calls."""

    def __init__(self, ioloop: IOLoop) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        super().__init__(self._reader, ioloop=ioloop)

    def call_soon(self, function: Callable, *args: object) -> None:
        self._calls.put((function, args))
        # OSError: the buffer is full (a wake-up is pending anyway) or closed at shutdown.
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def handle_read(self) -> None:
        with contextlib.suppress(OSError):
            self._reader.recv(4096)
        while True:
            try:
                function, args = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                function(*args)
            except Exception:
                log.exception("call from another thread failed in the FTP loop")

    def close(self) -> None:
        super().close()
        self._writer.close()


class LoopThread:
    """One IOLoop, the thread running it, and workers for blocking calls."""

    def __init__(self, name: str, workers: int = 8) -> None:
        self.ioloop = IOLoop()
        self._waker = _Waker(self.ioloop)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{name}-worker")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.ioloop.loop(timeout=None, blocking=True)
        except Exception:
            log.exception("the FTP loop %s stopped on an error", self._thread.name)
            self._close_all()

    def call_soon(self, function: Callable, *args: object) -> None:
        """Run `function(*args)` in the loop thread (safe from any thread)."""
        self._waker.call_soon(function, *args)

    def run_blocking(self, function: Callable[[], object], done: Callable[[Future], None]) -> None:
        """Run `function` in a worker, then `done(future)` back in the loop thread."""
        future = self._pool.submit(function)
        future.add_done_callback(lambda finished: self.call_soon(done, finished))

    def _close_all(self) -> None:
        self.ioloop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Close every socket of this loop (listener, sessions, data channels) and join."""
        if self._thread.is_alive():
            self.call_soon(self._close_all)
            self._thread.join(timeout)
        else:
            self._close_all()
        self._pool.shutdown(wait=False, cancel_futures=True)
