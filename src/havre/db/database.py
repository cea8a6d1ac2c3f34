"""The governance store: engine, sessions and transactions (SQLite by default, PostgreSQL).

SQLite runs in WAL mode with a busy timeout and ``synchronous=FULL`` (durable commits); every
transaction starts with ``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way.
A read-only unit of work (``Database.reading``) starts with a plain ``BEGIN`` instead: it reads
one snapshot and neither waits for nor holds up the writers (PostgreSQL: ``REPEATABLE
READ, READ ONLY``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from havre.core.config import mask_url
from havre.core.errors import ConfigError, DatabaseUnavailable
from havre.db.background import Background
from havre.db.plain import PlainTransaction, Statements

SQLITE_BUSY_MS = 30_000
READ_ONLY = "havre_read_only"  # execution option of the read-only sessions


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
        self._own = _OwnConnections(self.engine)
        # writes that need not hold up their caller (``havre.db.background``); every unit of
        # work below waits for those given before it (``_settled``)
        self.background = Background()
        self._units = threading.local()

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

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back on any exception."""
        with self._settled(), _unit(self._sessions) as session:
            yield session

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work: one consistent snapshot; a write in it fails."""
        with self._settled(), _unit(self._readers) as session:
            yield session

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection of the engine's, for reads in bulk outside the ORM."""
        with self._settled(), self.engine.connect() as connection:
            yield connection

    def scalar(self, statement: Select[Any]) -> Any:
        """The one value of one constant SELECT, run outside any unit of work
        (the statement reads a snapshot of its own) on this thread's own connection: no
        session, no pool; for hot paths."""
        return self._own.scalar(statement)

    @contextlib.contextmanager
    def plain_transaction(self) -> Iterator[PlainTransaction]:
        """A write transaction of plain statements (``havre.db.plain``) on this thread's own
        connection: ``BEGIN IMMEDIATE`` on SQLite, as the sessions'; committed when the block
        ends (rolled back if it raised or abandoned it). For hot paths only."""
        with (
            self._settled(),
            self._own.transaction("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN") as tx,
        ):
            yield tx

    @contextlib.contextmanager
    def _settled(self) -> Iterator[None]:
        """Wait for the background writes given so far (``havre.db.background``) before the
        thread's outermost unit of work: one opened inside another must not wait, as a write
        pending there may be waiting for the lock the outer one holds."""
        depth = getattr(self._units, "depth", 0)
        if not depth:
            self.background.settle()
        self._units.depth = depth + 1
        try:
            yield
        finally:
            self._units.depth = depth

    def dispose(self) -> None:
        self.background.close()
        self._own.close()
        self.engine.dispose()


class _Held:
    """A thread's lone connection: closed when the thread ends (its locals go), when it fails,
    or when the database is disposed; never from a forked child (the server session is the
    parent's)."""

    def __init__(self, connection: Any) -> None:
        self.pid = os.getpid()
        self.connection = connection

    def close(self) -> None:
        if os.getpid() == self.pid:
            with contextlib.suppress(Exception):
                self.connection.close()

    def __del__(self) -> None:
        self.close()


class _OwnConnections:
    """One DBAPI connection per thread that uses it, in autocommit mode: for lone statements
    and plain transactions (``havre.db.plain``). Through the engine, a statement of a
    microsecond costs ~0.2 ms of connection checkout, transaction events and result wrapping;
    here it costs the statement. A connection that fails a lone statement is dropped and the
    statement tried once on a new one (a restarted PostgreSQL server). A server's worker
    threads hold one each, outside the engine's pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._open: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._statements = Statements(engine.dialect)

    def scalar(self, statement: Select[Any]) -> Any:
        try:
            return self._scalar(statement)
        except self.engine.dialect.loaded_dbapi.Error:
            self._drop()
            return self._scalar(statement)

    def _scalar(self, statement: Select[Any]) -> Any:
        cursor = self._held().connection.cursor()
        try:  # read to the end (``PlainTransaction.rows``): SQLite then ends the read
            return PlainTransaction(cursor, self._statements).scalar(statement)
        finally:
            cursor.close()

    @contextlib.contextmanager
    def transaction(self, begin: str) -> Iterator[PlainTransaction]:
        cursor = self._held().connection.cursor()
        try:
            cursor.execute(begin)
            tx = PlainTransaction(cursor, self._statements)
            try:
                yield tx
            except BaseException:
                self._end(cursor, "ROLLBACK")
                raise
            self._end(cursor, "ROLLBACK" if tx.abandoned else "COMMIT")
        finally:
            cursor.close()

    def _end(self, cursor: Any, how: str) -> None:
        """End the transaction; if that fails, the connection goes (never left in one)."""
        try:
            cursor.execute(how)
        except BaseException:
            with contextlib.suppress(Exception):
                cursor.execute("ROLLBACK")
            self._drop()
            raise

    def _held(self) -> _Held:
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None and held.pid == os.getpid():
            return held
        # a connection of the engine's (its connect events set it up), taken out of the pool
        fairy = self.engine.raw_connection()
        fairy.detach()
        connection: Any = fairy.dbapi_connection
        if self.engine.dialect.name == "postgresql":
            connection.autocommit = True
        held = self._local.held = _Held(connection)
        self._open.add(held)
        return held

    def _drop(self) -> None:
        held: _Held | None = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held.close()

    def close(self) -> None:
        for held in list(self._open):
            held.close()
        self._local = threading.local()


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
        if connection.get_execution_options().get(READ_ONLY):
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
