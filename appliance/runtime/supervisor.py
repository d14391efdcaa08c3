"""The supervisor: loads the configuration, runs the services, reloads, stops gracefully.

One asyncio loop in the main thread hosts the SSH and HTTP services; FTP brings its own
loop in its own thread. SIGTERM/SIGINT stop; SIGHUP reloads (validate first; an invalid
configuration is rejected with event 20081 and the running one stays). Windows has no
SIGHUP: `appliance reload` there drops a request file that the supervisor polls.
"""

from __future__ import annotations

import asyncio
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
from appliance.runtime.services import service_class
from appliance.runtime.shared.setup import build_shared_state, shared_state_key

log = logging.getLogger(__name__)

PID_FILE = "appliance.pid"
RELOAD_REQUEST = "reload.request"
WINDOWS = sys.platform == "win32"


def pid_file(config: Config) -> Path:
    return config.data_folder / PID_FILE


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
        try:
            await self._start_services(config.services.values())
            await self._stopping.wait()
        except asyncio.CancelledError:
            reason = "cancelled"
        finally:
            if poller:
                poller.cancel()
            await self._stop_services(list(self.services))
            await sweep
            await asyncio.to_thread(self.handlers.close)
            bus.emit(20075, "server", reason=reason)
            bus.close()
            if self.context.shared_state is not None:
                await asyncio.to_thread(self.context.shared_state.close)
            pid_file(self.context.config).unlink(missing_ok=True)
        return 0

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
                request.unlink(missing_ok=True)
                await self.reload()

    # -- services --------------------------------------------------------
    async def _start_services(self, sections) -> None:
        bus = self.context.bus
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
        """Validate the configuration on disk and apply it; keep the old one if it is invalid."""
        async with self._reload_lock:
            bus = self.context.bus
            try:
                new = await asyncio.to_thread(load_config, self.config_path)
            except ConfigError as error:
                bus.emit(
                    20081,
                    "server",
                    config=str(self.config_path),
                    problems="; ".join(str(p) for p in error.problems),
                )
                return False
            old_sinks = bus.replace_sinks(build_sinks(new))
            for sink in old_sinks:
                await asyncio.to_thread(sink.close)
            changed = [
                service_id
                for service_id, (section, _service) in self.services.items()
                if new.services.get(service_id) is None
                or new.services[service_id].options != section.options
            ]
            await self._stop_services(changed)
            old_state = None
            if shared_state_key(new) != shared_state_key(self.context.config):
                old_state = self.context.shared_state
                self.context.shared_state = build_shared_state(new)
            self.context.config = new
            if old_state is not None:
                await asyncio.to_thread(old_state.close)
            self.handlers.configure(new)
            await self._start_services(
                section
                for service_id, section in new.services.items()
                if service_id not in self.services
            )
            bus.emit(
                20080,
                "server",
                config=str(new.main_file),
                changes=f"{len(changed)} services restarted" if changed else "no listener changed",
            )
            return True
