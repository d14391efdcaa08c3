"""The PostgreSQL audit trail and shared state against a real PostgreSQL 15 (lab_postgresql)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from appliance.config import load_config
from appliance.runtime.database.migrations import LATEST, MigrationError, migrate
from appliance.runtime.database.postgresql import PostgreSQLResource
from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.setup import audit_backend, build_sinks
from appliance.runtime.events.sinks.postgresql import AuditUnavailable, PostgreSQLSink
from appliance.runtime.shared.postgresql import PostgreSQLState
from tests.conftest import REPO
from tests.helpers import wait_for
from tests.lab_postgresql import PostgreSQL


@pytest.fixture(scope="module")
def postgres():
    with PostgreSQL() as server:
        yield server


@pytest.fixture
def database(postgres: PostgreSQL) -> str:
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")


def _config(config_dir, postgres: PostgreSQL, database: str):
    return config_dir(
        f"""\
        [server]
        name = node-a

        [event-handlers/local]
        type = sqlite
        path = data/audit.db

        [event-handlers/trail]
        type = postgresql
        resource = trail-db

        {postgres.resource_ini("trail-db", database)}
        """
    )


def _resource(postgres: PostgreSQL, database: str) -> PostgreSQLResource:
    return PostgreSQLResource(
        "trail-db",
        "127.0.0.1",
        postgres.port,
        database,
        "postgres",
        password_file=postgres.password_file,
        tls="disable",
    )


def test_durable_event_is_committed_before_emit_returns(postgres, database, monkeypatch):
    sink = PostgreSQLSink("trail", _resource(postgres, database), node="node-a")
    bus = EventBus([sink])
    try:
        # The queue's worker cannot deliver: a durable event must not need it.
        monkeypatch.setattr(sink, "deliver", lambda batch: (_ for _ in ()).throw(OSError("no")))
        event = bus.emit(
            20050,
            "services/sftp",
            account="alice",
            peer="192.0.2.7:5000",
            path="/a.txt",
            real_path="/x/a.txt",
            bytes=3,
            duration=0.1,
        )
        with postgres.connect(database) as reader:
            row = reader.execute(
                "SELECT id, account, peer, node, data FROM events WHERE uuid = %s", (event.uuid,)
            ).fetchone()
        assert row == (20050, "alice", "192.0.2.7:5000", "node-a", event.data)
        monkeypatch.undo()
        queued = bus.emit(10033, "services/ftp", peer="192.0.2.8:1", service="ftp")
        assert sink.flush(10)
        with postgres.connect(database) as reader:
            count = reader.execute(
                "SELECT count(*) FROM events WHERE uuid = %s", (queued.uuid,)
            ).fetchone()
        assert count == (1,)
    finally:
        bus.close()


def test_a_broken_link_is_reconnected_and_a_dead_database_raises(postgres, database):
    sink = PostgreSQLSink("trail", _resource(postgres, database), node="node-a")
    try:
        with postgres.connect(database) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        bus = EventBus([sink])
        event = bus.emit(
            20050,
            "services/sftp",
            account="alice",
            path="/b",
            real_path="/b",
            bytes=1,
            duration=0.1,
        )
        with postgres.connect(database) as reader:
            assert reader.execute(
                "SELECT count(*) FROM events WHERE uuid = %s", (event.uuid,)
            ).fetchone() == (1,)
        with postgres.connect() as admin:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
        with pytest.raises(AuditUnavailable, match="could not be committed"):
            bus.emit(
                20050,
                "services/sftp",
                account="alice",
                path="/c",
                real_path="/c",
                bytes=1,
                duration=0.1,
            )
    finally:
        with postgres.connect() as admin:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        sink.close(1)


def test_migrations_are_versioned_applied_once_and_a_newer_schema_is_refused(postgres, database):
    with postgres.connect(database) as connection:
        assert migrate(connection) == list(range(1, LATEST + 1))
        assert migrate(connection) == []
        versions = connection.execute(
            "SELECT version FROM schema_migrations ORDER BY version"
        ).fetchall()
        assert [v for (v,) in versions] == list(range(1, LATEST + 1))
        connection.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, 'from the future')",
            (LATEST + 1,),
        )
        with pytest.raises(MigrationError, match="upgrade the appliance"):
            migrate(connection)


def test_appliance_events_reads_either_backend(config_dir, postgres, database):
    folder = _config(config_dir, postgres, database)
    config = load_config(folder)
    assert audit_backend(config).__class__.__name__ == "PosixPath"
    assert isinstance(audit_backend(config, "postgresql"), PostgreSQLResource)
    bus = EventBus(build_sinks(config))
    bus.emit(
        20137,
        "services/sftp",
        account="carol",
        peer="198.51.100.4:7",
        method="local",
        protocol="sftp",
        credential="password",
        home_folder="/h",
        groups=[],
        permissions=[],
    )
    bus.close()

    def events(*backend: str) -> list[dict]:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "appliance",
                "events",
                "-c",
                str(folder),
                "--json",
                "--account",
                "carol",
                "--since",
                "1h",
                *backend,
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    from_sqlite, from_postgresql = events("--backend", "sqlite"), events("--backend", "postgresql")
    assert len(from_postgresql) == 1
    assert from_postgresql[0]["peer"] == "198.51.100.4:7"
    keys = ("uuid", "id", "time", "component", "account", "peer", "message", "data")
    assert [{k: e[k] for k in keys} for e in from_postgresql] == [
        {k: e[k] for k in keys} for e in from_sqlite
    ]
    assert events() == from_sqlite  # the first of either: sqlite comes first here


def test_shared_state_carries_bans_and_ended_sessions_between_nodes(postgres, database):
    resource = _resource(postgres, database)
    node_a = PostgreSQLState(resource, "node-a", refresh=0.2)
    node_b = PostgreSQLState(resource, "node-b", refresh=0.2)
    try:
        assert node_a.wait_ready(20) and node_b.wait_ready(20)
        until = datetime.now(UTC) + timedelta(minutes=5)
        node_a.ban("address 203.0.113.9", until)
        node_a.end_session("sid-1", until)
        assert node_a.banned_until("address 203.0.113.9") == until  # at once, locally
        wait_for(lambda: node_b.banned_until("address 203.0.113.9"), timeout=10)
        wait_for(lambda: node_b.session_ended("sid-1"), timeout=10)
        assert node_b.banned_until("address 203.0.113.10") is None
        assert not node_b.session_ended("sid-2")
        node_b.ban("account mallory", datetime.now(UTC) + timedelta(seconds=1))
        wait_for(lambda: node_a.banned_until("account mallory"), timeout=10)
        time.sleep(1.2)
        assert node_a.banned_until("account mallory") is None  # expired everywhere
    finally:
        node_a.close()
        node_b.close()
