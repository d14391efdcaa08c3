"""`appliance transfers list | status | run | retry | forget`: the queue on disk, on demand.

Each reads the configuration (-c) and the queue file in its data folder; none needs the
runtime running. `run` uses the engine's own code (`run_transfer_now`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from appliance.config import Config, ConfigError, load_config
from appliance.runtime.transfers.location import LocationError
from appliance.runtime.transfers.queue import FAILED, STATES, TransferQueue, queue_path


class _Refused(Exception):
    """A clear one-line reason to exit 1."""


def add_transfers_parser(commands: argparse._SubParsersAction) -> None:
    transfers = commands.add_parser("transfers", help="client transfers: list, status, run...")
    sub = transfers.add_subparsers(dest="transfers_command", required=True)

    def command(name: str, function, text: str, *, transfer_id: str = "") -> None:
        parser = sub.add_parser(name, help=text, description=text)
        parser.add_argument("-c", "--config", default=".", help="server.ini or its folder")
        if transfer_id == "required":
            parser.add_argument("id", help="the transfer id ([transfers/ID])")
        elif transfer_id == "optional":
            parser.add_argument("id", nargs="?", help="only this transfer")
        parser.set_defaults(func=_guarded(function))

    command("list", _list, "the configured transfers")
    command("status", _status, "queue counts and failed files", transfer_id="optional")
    command("run", _run, "scan the source and send now", transfer_id="required")
    command("retry", _retry, "queue the failed files again", transfer_id="required")
    command("forget", _forget, "drop the queue records of a transfer", transfer_id="required")


def _guarded(function):
    def run(args: argparse.Namespace) -> int:
        try:
            return function(args)
        except ConfigError as error:
            for problem in error.problems:
                print(problem, file=sys.stderr)
            return 1
        except (_Refused, LocationError, OSError) as error:
            print(f"appliance transfers {args.transfers_command}: {error}", file=sys.stderr)
            return 1

    return run


def _config(args: argparse.Namespace) -> Config:
    config = load_config(Path(args.config))
    transfer_id = getattr(args, "id", None)
    if transfer_id and transfer_id not in config.transfers:
        defined = ", ".join(sorted(config.transfers)) or "none defined"
        raise _Refused(f"no [transfers/{transfer_id}] in the configuration (defined: {defined})")
    return config


def _queue(config: Config) -> TransferQueue:
    return TransferQueue(queue_path(config.data_folder))


def _list(args: argparse.Namespace) -> int:
    config = _config(args)
    for section in config.transfers.values():
        state = "" if section.enabled else "  (disabled)"
        print(
            f"{section.id}: {_place(section['source'], section['source_path'])} -> "
            f"{_place(section['destination'], section['destination_path'])}, "
            f"trigger {section['trigger']}, match {section['match']}, after {section['after']}"
            f"{state}"
        )
    return 0


def _place(where: str, folder: str) -> str:
    """A location and the folder in it: `partner:/incoming`, or a folder path alone."""
    return f"{where}:{folder}" if folder else where


def _status(args: argparse.Namespace) -> int:
    config = _config(args)
    ids = [args.id] if args.id else list(config.transfers)
    queue = _queue(config)
    try:
        counts = queue.counts()
        for transfer_id in ids:
            numbers = counts.get(transfer_id, dict.fromkeys(STATES, 0))
            print(f"{transfer_id}: " + ", ".join(f"{state} {numbers[state]}" for state in STATES))
            for record in queue.files(transfer_id, FAILED):
                print(
                    f"  failed: {record.source_path} after {record.attempts} attempts: "
                    f"{record.last_error}"
                )
    finally:
        queue.close()
    return 0


def _run(args: argparse.Namespace) -> int:
    from appliance.runtime.events.bus import EventBus
    from appliance.runtime.events.setup import build_sinks
    from appliance.runtime.events.sinks.textlog import format_line
    from appliance.runtime.transfers.engine import run_transfer_now

    config = _config(args)
    bus = EventBus(build_sinks(config))
    bus.subscribe(lambda event: print(format_line(event), flush=True))
    try:
        queued = asyncio.run(run_transfer_now(config, args.id, bus))
    finally:
        bus.close()
    queue = _queue(config)
    try:
        numbers = queue.counts(args.id).get(args.id, dict.fromkeys(STATES, 0))
    finally:
        queue.close()
    print(
        f"{args.id}: {queued} new files queued; now "
        + ", ".join(f"{state} {numbers[state]}" for state in STATES)
    )
    return 1 if numbers[FAILED] else 0


def _retry(args: argparse.Namespace) -> int:
    return _change_queue(args, TransferQueue.retry_failed, "failed files queued again")


def _forget(args: argparse.Namespace) -> int:
    return _change_queue(args, TransferQueue.forget, "queue records dropped")


def _change_queue(args: argparse.Namespace, change, what: str) -> int:
    queue = _queue(_config(args))
    try:
        count = change(queue, args.id)
    finally:
        queue.close()
    print(f"{args.id}: {count} {what}")
    return 0
