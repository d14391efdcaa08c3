"""The supervisor: loads the configuration, runs the services, reloads, stops gracefully.

One asyncio loop in the main thread hosts the SSH and HTTP services; FTP brings its own
loop in its own thread. SIGTERM/SIGINT stop; SIGHUP reloads (validate first; an invalid
configuration is rejected with event 20081 and the running one stays). Windows has no
SIGHUP: `appliance reload` there drops a request file that the supervisor polls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from appliance import __version__
from appliance.config import Config, ConfigError, Section, load_config
from appliance.runtime.aaa.core import AAA
from appliance.runtime.context import RuntimeContext
from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.setup import build_sinks
from appliance.runtime.events.sinks.textlog import format_line
from appliance.runtime.fs.sweep import sweep_orphaned_temporaries
from appliance.runtime.handlers.engine import HandlerEngine
from appliance.runtime.net.ports import bind_problem
from appliance.runtime.services import service_class
from appliance.runtime.shared.setup import build_shared_state, shared_state_key
from appliance.runtime.transfers.engine import TransferEngine

log = logging.getLogger(__name__)

PID_FILE = "appliance.pid"
RELOAD_REQUEST = "reload.request"
RELOAD_RESULT = "reload.result"
WINDOWS = sys.platform == "win32"


def pid_file(config: Config) -> Path:
    return config.data_folder / PID_FILE


def _take_reload_request(data_folder: Path) -> str | None:
    """The token `appliance reload` left for this reload (None for a bare SIGHUP)."""
    request = data_folder / RELOAD_REQUEST
    try:
        token = request.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
    request.unlink(missing_ok=True)
    return token


def _write_reload_result(
    data_folder: Path, token: str | None, accepted: bool, outcome: str
) -> None:
    result = {"token": token, "accepted": accepted, "outcome": outcome}
    temporary = data_folder / (RELOAD_RESULT + ".tmp")
    try:
        temporary.write_text(json.dumps(result), encoding="utf-8")
        os.replace(temporary, data_folder / RELOAD_RESULT)
    except OSError as error:
        log.warning("reload result not written: %s", error)


class Supervisor:
    def __init__(self, config_path: Path, *, echo_events: bool = True) -> None:
        self.config_path = Path(config_path)
        self.echo_events = echo_events
        self.context: RuntimeContext | None = None
        self.services: dict[str, tuple[Section, object]] = {}
        self._stopping: asyncio.Event | None = None
        self._reload_lock = asyncio.Lock()

    # -- entry point -----------------------------------------------------
    def run(self) -> int:
        from appliance.ha.guard import passive_refusal

        refusal = passive_refusal(self.config_path)
        if refusal:
            print(f"appliance serve: {refusal}", file=sys.stderr)
            return 1
        try:
            config = load_config(self.config_path)
        except ConfigError as error:
            for problem in error.problems:
                print(problem, file=sys.stderr)
            return 1
        return asyncio.run(self._main(config))

    async def _main(self, config: Config) -> int:
        self._stopping = asyncio.Event()
        bus = EventBus(build_sinks(config))
        if self.echo_events:
            bus.subscribe(lambda event: print(format_line(event), flush=True))
        self.context = RuntimeContext(
            config=config, bus=bus, shared_state=build_shared_state(config)
        )
        self.context.aaa = AAA(self.context)
        self.handlers = HandlerEngine(bus)
        self.handlers.configure(config)
        config.data_folder.mkdir(parents=True, exist_ok=True)
        self.transfers = TransferEngine(bus)
        self.transfers.configure(config)
        pid_file(config).write_text(str(os.getpid()))
        bus.emit(20074, "server", config=str(config.main_file), version=__version__)
        sweep = asyncio.create_task(
            asyncio.to_thread(
                sweep_orphaned_temporaries, config, bus, self.context.upload_temporary_grace
            )
        )
        self._install_signal_handlers()
        poller = asyncio.create_task(self._poll_reload_requests()) if WINDOWS else None
        reason = "stop requested"
        status = 0
        try:
            failed = await self._start_services(config.services.values())
            if failed and not self.services:
                # Serving nothing is not running: say so in one line and exit non-zero.
                first = next(iter(failed.items()))
                print(
                    f"appliance serve: no service could start ({len(failed)} failed; "
                    f"services/{first[0]}: {first[1]})",
                    file=sys.stderr,
                )
                reason, status = "no service could start", 1
            else:
                await self._stopping.wait()
        except asyncio.CancelledError:
            reason = "cancelled"
        finally:
            if poller:
                poller.cancel()
            await self._stop_services(list(self.services))
            await sweep
            await asyncio.to_thread(self.handlers.close)
            await asyncio.to_thread(self.transfers.close)
            await asyncio.to_thread(bus.flush)  # 20075 (durable) is the run's last record
            bus.emit(20075, "server", reason=reason)
            bus.close()
            if self.context.shared_state is not None:
                await asyncio.to_thread(self.context.shared_state.close)
            pid_file(self.context.config).unlink(missing_ok=True)
        return status

    def request_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        if WINDOWS:
            signal.signal(signal.SIGINT, lambda *_: loop.call_soon_threadsafe(self.request_stop))
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))

    async def _poll_reload_requests(self) -> None:
        while True:
            await asyncio.sleep(1)
            request = self.context.config.data_folder / RELOAD_REQUEST
            if request.exists():
                await self.reload()

    # -- services --------------------------------------------------------
    async def _start_services(self, sections) -> dict[str, str]:
        """Start each enabled section; the services that failed, with their error (20078)."""
        bus = self.context.bus
        failed: dict[str, str] = {}
        for section in sections:
            if not section.enabled:
                continue
            factory = service_class(section.type)
            if factory is None:
                bus.emit(
                    20078,
                    f"services/{section.id}",
                    service=section.id,
                    address=section["address"],
                    port=section["port"],
                    error=f"service type {section.type!r} is not built in this version",
                )
                failed[section.id] = "not built in this version"
                continue
            service = factory(section, self.context)
            try:
                await service.start()
            except Exception as error:
                bus.emit(
                    20078,
                    f"services/{section.id}",
                    service=section.id,
                    address=section["address"],
                    port=section["port"],
                    error=str(error),
                )
                failed[section.id] = str(error)
                continue
            self.services[section.id] = (section, service)
            address, port = service.listening
            bus.emit(
                20076,
                f"services/{section.id}",
                service=section.id,
                type=section.type,
                address=address,
                port=port,
            )
        return failed

    async def _stop_services(self, ids: list[str]) -> None:
        for service_id in ids:
            _section, service = self.services.pop(service_id)
            try:
                await service.stop()
            except Exception:
                log.exception("stopping service %s failed", service_id)
            self.context.bus.emit(20077, f"services/{service_id}", service=service_id)

    # -- reload ----------------------------------------------------------
    async def reload(self) -> bool:
        """Validate the configuration on disk and apply it; keep the old one if it is invalid
        or a changed listener could not bind. The outcome goes to RELOAD_RESULT, where
        `appliance reload` reads it."""
        async with self._reload_lock:
            token = _take_reload_request(self.context.config.data_folder)
            accepted, outcome = await self._reload()
            _write_reload_result(self.context.config.data_folder, token, accepted, outcome)
            return accepted

    def _reject(self, problems: str) -> tuple[bool, str]:
        self.context.bus.emit(20081, "server", config=str(self.config_path), problems=problems)
        return False, f"refused, the running configuration stays: {problems}"

    def _unbindable(self, new: Config, changed: list[str]) -> list[str]:
        """Listeners the new configuration adds or moves that cannot bind now. An address
        and port that a listener stopped by this reload holds is not probed: it frees it."""
        old = self.context.config.services
        freed = {(old[sid]["address"], old[sid]["port"]) for sid in changed if sid in old}
        problems = []
        for service_id, section in new.services.items():
            if not section.enabled or "port" not in section.options:
                continue
            where = (section["address"], section["port"])
            before = old.get(service_id)
            if before is not None and (before["address"], before["port"]) == where:
                continue
            if where in freed:
                continue
            problem = bind_problem(*where)
            if problem:
                problems.append(
                    f"services/{service_id}: cannot listen on {where[0]}:{where[1]}: {problem}"
                )
        return problems

    async def _reload(self) -> tuple[bool, str]:
        bus = self.context.bus
        try:
            new = await asyncio.to_thread(load_config, self.config_path)
        except ConfigError as error:
            return self._reject("; ".join(str(p) for p in error.problems))
        changed = [
            service_id
            for service_id, (section, _service) in self.services.items()
            if new.services.get(service_id) is None
            or new.services[service_id].options != section.options
        ]
        clashes = await asyncio.to_thread(self._unbindable, new, changed)
        if clashes:
            return self._reject("; ".join(clashes))
        old_sinks = bus.replace_sinks(build_sinks(new))
        for sink in old_sinks:
            await asyncio.to_thread(sink.close)
        replaced = {service_id: self.services[service_id][0] for service_id in changed}
        await self._stop_services(changed)
        old_state = None
        if shared_state_key(new) != shared_state_key(self.context.config):
            old_state = self.context.shared_state
            self.context.shared_state = build_shared_state(new)
        old_services = self.context.config.services
        self.context.config = new
        if old_state is not None:
            await asyncio.to_thread(old_state.close)
        self.handlers.configure(new)
        await asyncio.to_thread(self.transfers.configure, new)
        failed = await self._start_services(
            section
            for service_id, section in new.services.items()
            if service_id not in self.services
        )
        # A listener the new configuration changed that still failed (the port was taken
        # after the probe): the one it replaced comes back.
        failed = {
            sid: error
            for sid, error in failed.items()
            if sid in replaced or sid not in old_services
        }
        await self._start_services(replaced[sid] for sid in failed if sid in replaced)
        bus.emit(
            20080,
            "server",
            config=str(new.main_file),
            changes=f"{len(changed)} services restarted" if changed else "no listener changed",
        )
        if failed:
            restored = ", ".join(f"services/{sid}: {error}" for sid, error in failed.items())
            return False, f"applied, but these listeners kept their previous form: {restored}"
        return True, f"{len(changed)} services restarted" if changed else "no listener changed"
