"""Plain transactions (``havre.db.plain``): SQLAlchemy's statements and bind processors on
the thread's own connection, committed, abandoned or rolled back as a session's would be."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update

from havre.db.base import UTCDateTime
from havre.db.database import Database

PROBE = Table(
    "plain_probe",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(40)),
    Column("at", UTCDateTime()),
)
INSERT = insert(PROBE)
RENAME = update(PROBE).where(PROBE.c.id == 1).values(name="renamed")
WHEN = dt.datetime(2026, 12, 1, 4, 5, 6, 789012, tzinfo=dt.UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    PROBE.drop(database.engine, checkfirst=True)
    PROBE.create(database.engine)
    yield database
    PROBE.drop(database.engine)
    database.dispose()


def _stored(db: Database) -> list[tuple[int, str | None, dt.datetime | None]]:
    with db.reading() as session:
        rows = session.execute(select(PROBE).order_by(PROBE.c.id))
        return [(int(r.id), r.name, r.at) for r in rows]


def test_values_go_through_the_column_types_as_a_session_s_do(db: Database) -> None:
    with db.plain_transaction() as tx:
        tx.execute_many(INSERT, [{"id": 1, "name": "plain", "at": WHEN}])
    with db.transaction() as session:
        session.execute(INSERT, {"id": 2, "name": "session", "at": WHEN})
    assert _stored(db) == [(1, "plain", WHEN), (2, "session", WHEN)]
    with db.plain_transaction() as tx:  # a statement's own values (the WHERE's 1) are kept
        tx.rows(RENAME)
        assert tx.scalar(select(PROBE.c.name).where(PROBE.c.id == 1)) == "renamed"


def test_an_abandoned_or_failed_transaction_leaves_nothing(db: Database) -> None:
    with db.plain_transaction() as tx:
        tx.execute_many(INSERT, [{"id": 1, "name": "abandoned", "at": WHEN}])
        tx.abandon()
    with pytest.raises(RuntimeError), db.plain_transaction() as tx:
        tx.execute_many(INSERT, [{"id": 2, "name": "failed", "at": WHEN}])
        raise RuntimeError("the caller's work failed")
    assert _stored(db) == []
    with db.transaction() as session:  # and no lock is left behind: a writer goes through
        session.execute(INSERT, {"id": 3, "name": "after", "at": None})
    assert _stored(db) == [(3, "after", None)]


def test_a_missing_or_unknown_parameter_is_refused(db: Database) -> None:
    with db.plain_transaction() as tx:
        with pytest.raises(KeyError, match="missing"):
            tx.execute_many(INSERT, [{"id": 1, "name": "no time"}])
        with pytest.raises(KeyError, match="unknown"):
            tx.execute_many(INSERT, [{"id": 1, "name": "x", "at": WHEN, "extra": 1}])
        tx.abandon()
    assert _stored(db) == []
