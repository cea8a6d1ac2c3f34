"""Read-only units of work: a snapshot that writes cannot use and that does not block writers."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import column, literal, select, table, text
from sqlalchemy.exc import DBAPIError

from havre.db.database import Database

from .conftest import probe_database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    with probe_database(database_url, "reading_probe", 1) as database:
        yield database


def test_reading_sees_committed_rows(db: Database) -> None:
    with db.reading() as session:
        assert session.execute(text("SELECT n FROM reading_probe")).scalar_one() == 1


def test_a_write_in_a_reading_fails_and_changes_nothing(db: Database) -> None:
    with pytest.raises(DBAPIError), db.reading() as session:
        session.execute(text("INSERT INTO reading_probe VALUES (2)"))
    with db.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM reading_probe")).scalar_one() == 1


def test_the_connection_writes_again_after_a_reading(db: Database) -> None:
    for _ in range(3):  # the pool hands the same connection back
        with db.reading() as session:
            session.execute(text("SELECT n FROM reading_probe")).all()
        with db.transaction() as session:
            session.execute(text("INSERT INTO reading_probe VALUES (3)"))
    with db.reading() as session:
        assert session.execute(text("SELECT count(*) FROM reading_probe")).scalar_one() == 4


def test_a_writer_commits_while_a_reading_is_open(db: Database) -> None:
    done = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with db.transaction() as session:
                session.execute(text("INSERT INTO reading_probe VALUES (5)"))
            done.set()
        except BaseException as error:  # reported to the test below
            failures.append(error)

    with db.reading() as session:
        assert session.execute(text("SELECT count(*) FROM reading_probe")).scalar_one() == 1
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=20)
        assert done.is_set() and not failures  # not held up by the open reading
        # the reading keeps its snapshot
        assert session.execute(text("SELECT count(*) FROM reading_probe")).scalar_one() == 1


_PROBE = select(column("n")).select_from(table("reading_probe")).where(column("n") > literal(0))


def test_a_lone_read_sees_each_commit_and_holds_no_snapshot(db: Database) -> None:
    assert db.scalar(_PROBE) == 1
    with db.transaction() as session:
        session.execute(text("UPDATE reading_probe SET n = 2"))
    assert db.scalar(_PROBE) == 2  # the connection kept no snapshot of its first read
    with db.transaction() as session:  # nor a lock: a writer goes through at once
        session.execute(text("UPDATE reading_probe SET n = 3"))
    assert db.scalar(_PROBE) == 3


def test_lone_reads_from_threads_each_on_their_own_connection(db: Database) -> None:
    seen: list[int] = []
    failures: list[BaseException] = []

    def read() -> None:
        try:
            seen.extend(db.scalar(_PROBE) for _ in range(20))
        except BaseException as error:  # reported to the test below
            failures.append(error)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert seen == [1] * 80


def test_a_lone_read_after_its_connection_broke_reconnects(db: Database) -> None:
    assert db.scalar(_PROBE) == 1
    held = db._own._local.held.connection
    if db.dialect == "postgresql":  # as a server restart would: the server ends the session
        pid = held.info.backend_pid
        with db.transaction() as session:
            session.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
    else:
        held.close()
    assert db.scalar(_PROBE) == 1
    assert db._own._local.held.connection is not held


def test_a_thread_s_lone_connection_closes_when_the_thread_ends(db: Database) -> None:
    taken: list[object] = []

    def read() -> None:
        assert db.scalar(_PROBE) == 1
        taken.append(db._own._local.held.connection)

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    del thread
    gc.collect()
    assert len(taken) == 1 and len(db._own._open) == 0
    with pytest.raises(Exception, match=r"(?i)closed"):
        taken[0].cursor().execute("SELECT 1")  # type: ignore[attr-defined]


def test_a_lone_read_of_no_row_fails(db: Database) -> None:
    with pytest.raises(LookupError):
        db.scalar(select(column("n")).select_from(table("reading_probe")).where(literal(False)))
