"""`appliance ha ...`: status, sync, accept, promote, demote, failback, check-pair."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from appliance.config import ConfigError
from appliance.ha.ownership import give_tree_to_folder_owner, running_as_root
from appliance.ha.pair import check_pair, load_pair
from appliance.ha.state import StateStore
from appliance.ha.transport import TransportError


def _store(args: argparse.Namespace) -> StateStore:
    return StateStore(load_pair(Path(args.config)))


def _status(args: argparse.Namespace) -> int:
    from appliance.ha.status import format_status, status

    report = status(_store(args))
    print(json.dumps(report, sort_keys=True) if args.json else format_status(report))
    return 0


def _sync(args: argparse.Namespace) -> int:
    from appliance.ha.audit import event_bus
    from appliance.ha.sync import SyncRefused, sync

    store = _store(args)
    with event_bus(store.pair.config_folder) as bus:
        try:
            result = sync(store, bus, attempts=args.attempts)
        except ConfigError as error:
            bus.emit(
                70002, "ha", peer_node=store.pair.peer.id, attempt=1, attempts=1,
                error="configuration invalid, nothing pushed: " + str(error.problems[0]),
            )  # fmt: skip
            raise
        except (SyncRefused, TransportError) as error:
            print(f"appliance ha sync: {error}", file=sys.stderr)
            return 1
    if result is None:
        print(f"node {store.pair.this.id} is passive: nothing to push")
    elif result.pushed:
        print(f"generation {result.generation} pushed to {store.pair.peer.id}: {result.message}")
    else:
        print(f"generation {result.generation} unchanged; {store.pair.peer.id} confirmed its copy")
    return 0


def _accept(args: argparse.Namespace) -> int:
    from appliance.ha.accept import accept, confirm
    from appliance.ha.audit import event_bus

    store = _store(args)
    if args.confirm:
        outcome = confirm(store, args.generation, args.confirm)
    else:
        with event_bus(store.pair.config_folder) as bus:
            outcome = accept(store, args.generation, bus)
    print(outcome.message, file=sys.stdout if outcome.exit_status == 0 else sys.stderr)
    return outcome.exit_status


def _promote(args: argparse.Namespace) -> int:
    from appliance.ha.audit import event_bus
    from appliance.ha.promote import PromoteRefused, promote
    from appliance.ha.report import drill_report_dict, format_drill_report

    store = _store(args)
    with event_bus(store.pair.config_folder) as bus:
        try:
            report = promote(store, bus, force=args.force)
        except PromoteRefused as refusal:
            print(f"appliance ha promote: refused: {refusal}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(drill_report_dict(report), sort_keys=True))
    else:
        print(format_drill_report(report))
    login_expected = bool(store.pair.options.get("probe_account"))
    return 2 if login_expected and report.first_login_seconds is None else 0


def _demote(args: argparse.Namespace) -> int:
    from appliance.ha.audit import event_bus
    from appliance.ha.demote import demote

    store = _store(args)
    with event_bus(store.pair.config_folder) as bus:
        changed = demote(store, bus, reason=args.reason)
    print(f"node {store.pair.this.id} is passive" + ("" if changed else " (it already was)"))
    return 0


def _failback(args: argparse.Namespace) -> int:
    from appliance.ha.audit import event_bus
    from appliance.ha.failback import FailbackFailed, failback
    from appliance.ha.sync import SyncRefused

    store = _store(args)
    with event_bus(store.pair.config_folder) as bus:
        try:
            result = failback(store, bus, force=args.force)
        except (FailbackFailed, SyncRefused, TransportError) as error:
            print(f"appliance ha failback: {error}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps({"generation": result.generation, "peer_report": result.peer_report}))
    else:
        print(f"failback to {store.pair.peer.id} done with generation {result.generation}")
        print(json.dumps(result.peer_report, indent=2, sort_keys=True))
    return 0


def _check_pair(args: argparse.Namespace) -> int:
    if args.install_as:
        problems = check_pair(Path(args.install_as), candidate=Path(args.path))
    else:
        problems = check_pair(Path(args.path))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def _guarded(function):
    def run(args: argparse.Namespace) -> int:
        try:
            return function(args)
        except ConfigError as error:
            print(error, file=sys.stderr)  # one line per problem
            return 1
        finally:
            _hand_state_to_its_owner(Path(args.config))

    return run


def _hand_state_to_its_owner(config: Path) -> None:
    """What a command run as root wrote in the state folder goes to the folder's owner."""
    if not running_as_root():
        return  # nothing to hand back; do not read ha.ini again
    try:
        state_folder = load_pair(config).state_folder
    except (ConfigError, OSError):
        return
    give_tree_to_folder_owner(state_folder)


def add_ha_parser(commands: argparse._SubParsersAction) -> None:
    ha = commands.add_parser("ha", help="active-passive pair: sync, status, promote, failback")
    sub = ha.add_subparsers(dest="ha_command", required=True)

    def command(name: str, function, text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=text, description=text)
        parser.add_argument("-c", "--config", default=".", help="server.ini (and ha.ini) folder")
        parser.set_defaults(func=_guarded(function))
        return parser

    status = command("status", _status, "role, generation, age, and whether the copies match")
    status.add_argument("--json", action="store_true")
    sync = command("sync", _sync, "push the configuration to the passive node (on the active)")
    sync.add_argument("--attempts", type=int, help="tries before giving up (ha.ini default)")
    accept = command("accept", _accept, "verify and install an uploaded generation (passive)")
    accept.add_argument("--generation", type=int, required=True)
    accept.add_argument("--confirm", metavar="DIGEST", help="only confirm an unchanged copy")
    promote = command("promote", _promote, "make this passive node active: the DR drill")
    promote.add_argument("--force", action="store_true", help="accept a stale copy or a live peer")
    promote.add_argument("--json", action="store_true", help="the drill report as JSON")
    demote = command("demote", _demote, "stop the services and make this node passive")
    demote.add_argument("--reason", default="requested by an operator")
    failback = command("failback", _failback, "hand the active role back to the other node")
    failback.add_argument("--force", action="store_true", help="passed to the peer's promote")
    failback.add_argument("--json", action="store_true")
    check = sub.add_parser("check-pair", help="validate ha.ini (used by the appliance_ha role)")
    check.add_argument("path", help="ha.ini or its folder")
    check.add_argument(
        "--as",
        dest="install_as",
        metavar="DEST",
        help="check PATH (a candidate file) as if it were installed as DEST",
    )
    check.set_defaults(func=_check_pair)
