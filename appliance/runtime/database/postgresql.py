"""Connect to the PostgreSQL database of a `[resources/<id>]` of type postgresql (psycopg 3)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance.config import Section


@dataclass(frozen=True)
class PostgreSQLResource:
    """Where the database is and how to reach it; the password stays in its file."""

    resource_id: str
    host: str
    port: int
    database: str
    user: str
    password_file: Path | None = None
    tls: str = "verify-full"
    ca_certificate: Path | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None
    timeout: int = 10

    @classmethod
    def from_section(cls, section: Section) -> PostgreSQLResource:
        options = section.options
        return cls(
            resource_id=section.id,
            host=options["host"],
            port=options.get("port", 5432),
            database=options["database"],
            user=options["user"],
            password_file=section.path("password_file"),
            tls=options.get("tls", "verify-full"),
            ca_certificate=section.path("ca_certificate"),
            client_certificate=section.path("client_certificate"),
            client_key=section.path("client_key"),
            timeout=options.get("timeout", 10),
        )

    @property
    def label(self) -> str:
        """How errors name the database: resources/audit-db (postgresql://host:port/db)."""
        return (
            f"resources/{self.resource_id} (postgresql://{self.host}:{self.port}/{self.database})"
        )

    def connection_options(self) -> dict[str, object]:
        """Keyword arguments of psycopg.connect (libpq parameters)."""
        options: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "user": self.user,
            "connect_timeout": self.timeout,
            "sslmode": self.tls,
            "application_name": "appliance",
        }
        if self.password_file is not None:
            options["password"] = self.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        if self.tls in ("verify-full", "verify-ca"):
            options["sslrootcert"] = str(self.ca_certificate) if self.ca_certificate else "system"
        if self.client_certificate is not None:
            options["sslcert"] = str(self.client_certificate)
        if self.client_key is not None:
            options["sslkey"] = str(self.client_key)
        return options

    def connect(self, *, autocommit: bool = True):
        """A new psycopg connection; psycopg.OperationalError when the database is out of reach."""
        import psycopg

        return psycopg.connect(autocommit=autocommit, **self.connection_options())
