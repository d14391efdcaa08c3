"""Read the audit trail (SQLite or PostgreSQL): the query behind `appliance events`."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.runtime.database.postgresql import PostgreSQLResource


def parse_since(text: str) -> str:
    """ "2026-11-21T10:00", "2026-11-21", or a duration back from now: "15m", "2h", "7d"."""
    text = text.strip()
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    if text[:-1].isdigit() and text[-1:] in units:
        moment = datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"--since {text!r}: expected an ISO time (2026-11-21T10:00) or 15m, 2h, 7d"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _where(
    since: str | None, ids: list[int] | None, account: str | None, mark: str
) -> tuple[str, list]:
    """The WHERE clause (placeholders `mark`) and its parameters."""
    clauses, params = [], []
    if since:
        clauses.append(f"time >= {mark}")
        params.append(parse_since(since))
    if ids:
        clauses.append(f"id IN ({', '.join([mark] * len(ids))})")
        params.extend(ids)
    if account:
        clauses.append(f"account = {mark}")
        params.append(account)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _select(where: str, limit: int | None, time_column: str = "time", extra: str = "") -> str:
    columns = f"seq, uuid, id, {time_column} AS time, component, account, peer, message, data"
    columns += extra
    # Only placeholders and fixed text are interpolated; values travel as parameters.
    sql = f"SELECT {columns} FROM events {where} ORDER BY seq DESC"  # noqa: S608
    return sql + (f" LIMIT {int(limit)}" if limit else "")


def query_events(
    database: Path,
    *,
    since: str | None = None,
    ids: list[int] | None = None,
    account: str | None = None,
    limit: int | None = None,
) -> list[dict]:
    if not Path(database).is_file():
        raise FileNotFoundError(f"audit database {database} does not exist")
    where, params = _where(since, ids, account, "?")
    sql = _select(where, limit)
    uri = f"{Path(database).resolve().as_uri()}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True) as connection:
            connection.row_factory = sqlite3.Row
            rows = connection.execute(sql, params).fetchall()
    except sqlite3.Error as error:
        raise ValueError(f"audit database {database} cannot be read: {error}") from None
    return [{**dict(row), "data": json.loads(row["data"])} for row in reversed(rows)]


def query_postgresql_events(
    resource: PostgreSQLResource,
    *,
    since: str | None = None,
    ids: list[int] | None = None,
    account: str | None = None,
    limit: int | None = None,
) -> list[dict]:
    """The same rows as query_events, from the shared trail (times in the same UTC text form),
    plus `node`: the [server] name of the node that recorded the event."""
    import psycopg
    from psycopg.rows import dict_row

    where, params = _where(since, ids, account, "%s")
    time_text = """to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    sql = _select(where, limit, time_text, ", node")
    try:
        with resource.connect() as connection:
            rows = connection.cursor(row_factory=dict_row).execute(sql, params).fetchall()
    except psycopg.Error as error:
        raise ValueError(f"audit trail {resource.label} cannot be read: {error}") from None
    return list(reversed(rows))
