"""The `appliance` command: init, validate, serve, reload, events, account, ha, transfers."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from appliance import __version__


def _cmd_init(args: argparse.Namespace) -> int:
    from appliance.config.demo import DEMO_ACCOUNT, DEMO_SUMMARY, init_demo

    try:
        password = init_demo(Path(args.directory), address=args.address)
    except FileExistsError as error:
        print(f"appliance init: {error}", file=sys.stderr)
        return 1
    print(f"Demo configuration written to {args.directory}/server.ini")
    print(f"Account {DEMO_ACCOUNT!r}, password (shown once, stored only as a hash): {password}")
    print(f"Services: {DEMO_SUMMARY}")
    print(f"Start it with: appliance serve -c {args.directory}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from appliance.config import validate_path
    from appliance.config.loader import FRAGMENTS, MAIN_FILE, staged_overlay

    path = Path(args.path).absolute()
    overlay: dict[Path, Path] = {}
    if args.installed_as:
        # Validate PATH as if it were installed at --as: the whole configuration around it.
        installed = Path(args.installed_as).absolute()
        root = installed.parent.parent if installed.parent.name == FRAGMENTS else installed.parent
        overlay[installed] = path
        path = root / MAIN_FILE
    if args.staged:
        overlay = {**staged_overlay(path, Path(args.staged).absolute()), **overlay}
    problems = validate_path(path, overlay)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    if not args.quiet:
        print(f"{args.path}: valid")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from appliance.runtime.events.printable import PrintableFormatter
    from appliance.runtime.supervisor import Supervisor

    terminal = logging.StreamHandler()
    terminal.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, handlers=[terminal])
    return Supervisor(Path(args.config), echo_events=not args.quiet).run()


def _cmd_reload(args: argparse.Namespace) -> int:
    import time
    import uuid

    from appliance.config import ConfigError, load_config
    from appliance.runtime.supervisor import RELOAD_REQUEST, RELOAD_RESULT, pid_file

    try:
        config = load_config(Path(args.config))
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("appliance reload: configuration invalid, nothing reloaded", file=sys.stderr)
        return 1
    token = uuid.uuid4().hex
    try:
        pid = int(pid_file(config).read_text())
        (config.data_folder / RELOAD_REQUEST).write_text(token, encoding="utf-8")
        if sys.platform != "win32":
            os.kill(pid, signal.SIGHUP)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        (config.data_folder / RELOAD_REQUEST).unlink(missing_ok=True)
        print(f"appliance reload: no running appliance found ({pid_file(config)})", file=sys.stderr)
        return 1
    # The supervisor answers in RELOAD_RESULT once the reload is applied or refused.
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            result = json.loads((config.data_folder / RELOAD_RESULT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {}
        if result.get("token") == token:
            if result.get("accepted"):
                print(f"appliance reload: {result['outcome']}")
                return 0
            print(f"appliance reload: {result['outcome']}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(
        f"appliance reload: no answer from the appliance within {args.timeout} s", file=sys.stderr
    )
    return 1


def _cmd_events(args: argparse.Namespace) -> int:
    from appliance.runtime.events.catalogue import catalogue_markdown

    if args.catalogue_markdown:
        sys.stdout.write(catalogue_markdown())
        return 0
    if args.send_test:
        return _send_test_event(args)
    from appliance.config import ConfigError, load_config
    from appliance.runtime.events.query import query_events, query_postgresql_events
    from appliance.runtime.events.setup import audit_backend
    from appliance.runtime.events.sinks.textlog import format_line

    backend = Path(args.database) if args.database else None
    if backend is None:
        try:
            backend = audit_backend(load_config(Path(args.config)), args.backend)
        except ConfigError as error:
            for problem in error.problems:
                print(problem, file=sys.stderr)
            return 1
        if backend is None:
            kinds = args.backend or "sqlite or postgresql"
            print(
                f"appliance events: no [event-handlers/<id>] of type {kinds} is configured",
                file=sys.stderr,
            )
            return 1
    query = query_events if isinstance(backend, Path) else query_postgresql_events
    try:
        rows = query(backend, since=args.since, ids=args.id, account=args.account, limit=args.limit)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f"appliance events: {error}", file=sys.stderr)
        return 1
    for row in rows:
        if args.json:
            print(json.dumps(row, sort_keys=True))
        else:
            print(format_line(_RowEvent(row)))
    return 0


def _send_test_event(args: argparse.Namespace) -> int:
    """Emit event 60004 through every configured sink; fail naming each sink that failed."""
    import getpass

    from appliance.config import ConfigError, load_config
    from appliance.runtime.events.bus import EventBus
    from appliance.runtime.events.event import make_event
    from appliance.runtime.events.setup import build_sinks

    try:
        config = load_config(Path(args.config))
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    sinks = [
        sink for sink in build_sinks(config) if not args.handler or sink.handler_id in args.handler
    ]
    if not sinks:
        print("appliance events: no matching [event-handlers/<id>] sink", file=sys.stderr)
        return 1
    failures: dict[str, str] = {}
    bus = EventBus(sinks)
    bus.subscribe(
        lambda event: (
            failures.setdefault(event.data.get("handler"), event.data.get("error"))
            if event.id == 60001
            else None
        )
    )
    # Straight to each sink, past its filter: the point is to prove the sink delivers.
    event = make_event(60004, "cli", requested_by=args.requested_by or getpass.getuser())
    for sink in sinks:
        sink.submit(event)
    import time

    deadline = time.monotonic() + args.timeout
    for sink in sinks:
        while sink.handler_id not in failures and time.monotonic() < deadline:
            if sink.flush(0.1):
                break
    bus.close(timeout=1.0 if failures else args.timeout)
    for sink in sinks:
        if sink.handler_id in failures:
            print(f"event-handlers/{sink.handler_id}: failed: {failures[sink.handler_id]}")
        else:
            print(f"event-handlers/{sink.handler_id}: sent test event 60004")
    return 1 if failures else 0


class _RowEvent:
    """Adapts a database row to what format_line reads."""

    def __init__(self, row: dict) -> None:
        self.id, self.timestamp, self.component = row["id"], row["time"], row["component"]
        self.account, self.peer, self.message = row["account"], row["peer"], row["message"]


def _cmd_account_hash(args: argparse.Namespace) -> int:
    from appliance.runtime.aaa.passwords import hash_password, hash_password_scrypt

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("appliance account hash: empty password", file=sys.stderr)
        return 1
    print(hash_password_scrypt(password) if args.scrypt else hash_password(password))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="appliance", description=__doc__)
    parser.add_argument("--version", action="version", version=f"appliance {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="write a demo configuration into a new folder")
    init.add_argument("directory")
    init.add_argument("--address", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    init.set_defaults(func=_cmd_init)

    validate = commands.add_parser("validate", help="check server.ini (a file or a folder)")
    validate.add_argument("path")
    validate.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    validate.add_argument(
        "--as",
        dest="installed_as",
        metavar="INSTALLED",
        help="validate PATH as the file INSTALLED (server.ini or server.d/NAME.ini) of that "
        "configuration, before it replaces it (Ansible's template validate:)",
    )
    validate.add_argument(
        "--staged",
        metavar="DIR",
        help="read DIR/server.ini and DIR/server.d/*.ini in place of the installed files",
    )
    validate.set_defaults(func=_cmd_validate)

    serve = commands.add_parser("serve", help="run the appliance in the foreground")
    serve.add_argument("-c", "--config", required=True, help="server.ini or its folder")
    serve.add_argument("-q", "--quiet", action="store_true", help="do not echo events")
    serve.add_argument("-v", "--verbose", action="store_true", help="log runtime internals")
    serve.set_defaults(func=_cmd_serve)

    reload = commands.add_parser("reload", help="validate, then make the running appliance reload")
    reload.add_argument("-c", "--config", required=True)
    reload.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the appliance's answer (default 120)",
    )
    reload.set_defaults(func=_cmd_reload)

    events = commands.add_parser("events", help="query the audit database")
    events.add_argument("-c", "--config", default=".", help="server.ini or its folder")
    events.add_argument("--database", help="audit database file (instead of -c)")
    events.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        help="read the first event handler of this type (default: the first of either)",
    )
    events.add_argument("--since", help="ISO time or 15m, 2h, 7d")
    events.add_argument("--id", type=int, action="append", help="event id (repeatable)")
    events.add_argument("--account")
    events.add_argument("--limit", type=int, help="only the last N events")
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.add_argument(
        "--catalogue-markdown",
        action="store_true",
        help="print the event catalogue (docs/events.md)",
    )
    events.add_argument(
        "--send-test",
        action="store_true",
        help="send test event 60004 through the configured sinks and report each one",
    )
    events.add_argument(
        "--handler", action="append", help="with --send-test: only this event handler id"
    )
    events.add_argument("--requested-by", help="with --send-test: who asked (default: user)")
    events.add_argument(
        "--timeout", type=float, default=10.0, help="with --send-test: seconds to wait per sink"
    )
    events.set_defaults(func=_cmd_events)

    account = commands.add_parser("account", help="account tools")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    hash_cmd = account_commands.add_parser("hash", help="hash a password read from stdin")
    hash_cmd.add_argument("--scrypt", action="store_true", help="scrypt instead of argon2id")
    hash_cmd.set_defaults(func=_cmd_account_hash)

    from appliance.ha.commands import add_ha_parser
    from appliance.runtime.transfers.commands import add_transfers_parser

    add_ha_parser(commands)
    add_transfers_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
