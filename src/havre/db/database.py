"""The governance store: engine, sessions and transactions (SQLite by default, PostgreSQL).

SQLite runs in WAL mode with a busy timeout and ``synchronous=FULL`` (durable commits); every
transaction starts with ``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way.
A read-only unit of work (``Database.reading``) starts with a plain ``BEGIN`` instead: it reads
one snapshot and neither waits for nor holds up the writers (PostgreSQL: ``REPEATABLE
READ, READ ONLY``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

from havre.core.config import mask_url
from havre.core.errors import ConfigError, DatabaseUnavailable

SQLITE_BUSY_MS = 30_000
READ_ONLY = "havre_read_only"  # execution option of the read-only sessions
ONE_STATEMENT = "havre_one_statement"  # execution option of ``Database.scalar``


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        try:
            parsed = make_url(url)
        except Exception:
            raise ConfigError(
                f"Invalid database URL {mask_url(url)!r}.",
                hint="e.g. sqlite:///path/havre.db or postgresql+psycopg://user@host/db",
            ) from None
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_MS / 1000, "check_same_thread": False}
        elif self.dialect == "postgresql":
            kwargs["pool_pre_ping"] = True
            kwargs["connect_args"] = {"connect_timeout": 10}
        else:
            raise ConfigError(
                f"Unsupported database '{self.dialect}'.", hint="use sqlite or postgresql"
            )
        self.engine: Engine = create_engine(parsed, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        else:
            _configure_postgresql(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        self._one_statement = self.engine.execution_options(**{ONE_STATEMENT: True})

    @property
    def masked_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def check_connection(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseUnavailable(
                f"Cannot reach the governance database {self.masked_url}: "
                f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}",
                hint="start the database server or fix HAVRE_DATABASE_URL",
            ) from None

    def transaction(self) -> contextlib.AbstractContextManager[Session]:
        """One unit of work: committed when the block ends, rolled back on any exception."""
        return _unit(self._sessions)

    def reading(self) -> contextlib.AbstractContextManager[Session]:
        """A read-only unit of work: one consistent snapshot; a write in it fails."""
        return _unit(self._readers)

    def scalar(self, statement: Executable) -> Any:
        """The one value of one SELECT, run outside any unit of work: no ``BEGIN`` (SQLite
        runs a lone statement on a snapshot of its own) and no session; for hot paths."""
        with self._one_statement.connect() as connection:
            return connection.execute(statement).scalar_one()

    def session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def _unit(sessions: sessionmaker[Session]) -> Iterator[Session]:
    session = sessions()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(ONE_STATEMENT):
            return  # the driver runs the statement in autocommit mode
        if options.get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            connection.exec_driver_sql("PRAGMA query_only = ON")
            connection.info[READ_ONLY] = True
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(READ_ONLY, False):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only = OFF")
            cursor.close()


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
