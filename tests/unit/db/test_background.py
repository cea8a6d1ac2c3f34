"""Background writes (``havre.db.background``): in order, waited for by the next unit of work
of any other thread, never by a unit opened inside another."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from havre.audit.bulk import end_read, fetch
from havre.db.background import Background
from havre.db.database import Database

from .conftest import probe_database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    with probe_database(database_url, "background_probe") as database:
        yield database


def _insert(db: Database, n: int, gate: threading.Event | None = None) -> None:
    if gate is not None:
        assert gate.wait(10)
    with db.transaction() as session:
        session.execute(text("INSERT INTO background_probe VALUES (:n)"), {"n": n})


def _rows(db: Database) -> list[int]:
    with db.reading() as session:
        return list(session.execute(text("SELECT n FROM background_probe ORDER BY n")).scalars())


def test_the_next_unit_of_work_waits_for_the_writes_given_before_it(db: Database) -> None:
    gate = threading.Event()
    first = db.background.submit(lambda: _insert(db, 1, gate))
    db.background.submit(lambda: _insert(db, 2))
    assert not first.done()
    threading.Timer(0.05, gate.set).start()
    assert _rows(db) == [1, 2]  # the reading waited for both


def test_bulk_reads_wait_too(db: Database) -> None:
    gate = threading.Event()
    db.background.submit(lambda: _insert(db, 7, gate))
    threading.Timer(0.05, gate.set).start()
    with db.connect() as connection:  # as the audit log's readers, in autocommit
        assert fetch(connection, "SELECT n FROM background_probe") == [(7,)]
        end_read(connection)


def test_a_unit_inside_another_does_not_wait(db: Database) -> None:
    """The pending write needs the lock the outer transaction holds: waiting for it there
    would wait for ever (PostgreSQL) or until the busy timeout fails it (SQLite)."""
    with db.transaction() as outer:
        outer.execute(text("INSERT INTO background_probe VALUES (1)"))  # SQLite: the lock
        if db.dialect == "postgresql":
            outer.execute(text("LOCK TABLE background_probe IN EXCLUSIVE MODE"))
        pending = db.background.submit(lambda: _insert(db, 2))
        with db.reading() as inner:
            inner.execute(text("SELECT 1")).scalar_one()
        with db.connect() as connection:
            assert fetch(connection, "SELECT 1") == [(1,)]
            end_read(connection)
        assert not pending.done()
    pending.result(timeout=30)
    assert _rows(db) == [1, 2]


def test_a_failed_write_is_its_futures_error_and_the_next_runs() -> None:
    background = Background()

    def fail() -> None:
        raise RuntimeError("disk full")

    failed = background.submit(fail)
    after = background.submit(lambda: 3)
    with pytest.raises(RuntimeError, match="disk full"):
        failed.result(timeout=10)
    assert after.result(timeout=10) == 3
    background.settle()
    background.close()


def test_close_finishes_the_writes_given_and_a_later_write_starts_again() -> None:
    background = Background()
    done: list[int] = []
    gate = threading.Event()
    background.submit(lambda: (gate.wait(10), done.append(1)))
    threading.Timer(0.05, gate.set).start()
    background.close()
    assert done == [1]
    assert background.submit(lambda: 2).result(timeout=10) == 2
    background.close()


def test_settle_on_the_writing_thread_returns_at_once() -> None:
    background = Background()
    gate = threading.Event()
    background.submit(lambda: gate.wait(10))
    inner = background.submit(background.settle)  # would wait for itself otherwise
    gate.set()
    inner.result(timeout=10)
    background.close()
