"""Versioned schema migrations of the shared PostgreSQL database, recorded in schema_migrations.

Each migration runs once, in its own transaction, in version order; an advisory lock makes
nodes that start together take turns, so exactly one of them applies a new version. A
database whose recorded version is newer than this runtime knows is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.runtime.database.postgresql import PostgreSQLResource

LOCK_KEY = 0x61_70_70_6C  # "appl": the advisory lock every node takes while migrating


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "audit events",
        """
        CREATE TABLE events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            id INTEGER NOT NULL,
            time TIMESTAMPTZ NOT NULL,
            component TEXT NOT NULL,
            account TEXT,
            peer TEXT,
            message TEXT NOT NULL,
            data JSONB NOT NULL,
            node TEXT
        );
        CREATE INDEX events_time ON events (time);
        CREATE INDEX events_id ON events (id);
        CREATE INDEX events_account ON events (account);
        """,
    ),
    Migration(
        2,
        "shared bans, login failures and ended sessions",
        """
        CREATE TABLE bans (
            subject TEXT PRIMARY KEY,
            banned_until TIMESTAMPTZ NOT NULL,
            node TEXT
        );
        CREATE TABLE ended_sessions (
            session_id TEXT PRIMARY KEY,
            expires TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX ended_sessions_expires ON ended_sessions (expires);
        CREATE TABLE login_failures (
            subject TEXT NOT NULL,
            time TIMESTAMPTZ NOT NULL,
            node TEXT NOT NULL
        );
        CREATE INDEX login_failures_time ON login_failures (time);
        """,
    ),
)

LATEST = MIGRATIONS[-1].version


class MigrationError(RuntimeError):
    pass


def migrate(connection) -> list[int]:
    """Bring the database to LATEST; returns the versions applied now (often none)."""
    applied: list[int] = []
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()
        current = row[0] or 0
        if current > LATEST:
            raise MigrationError(
                f"the database is at schema version {current}; this runtime knows up to "
                f"{LATEST}: upgrade the appliance on this node"
            )
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            connection.execute(migration.sql)
            connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration.version)
    return applied


def connect_migrated(resource: PostgreSQLResource):
    """A new connection (autocommit) to a database brought to the latest schema version."""
    connection = resource.connect()
    try:
        migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection
