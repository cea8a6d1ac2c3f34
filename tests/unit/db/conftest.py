"""A governance store with one probe table of a test's own, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import text

from havre.db.database import Database


@contextlib.contextmanager
def probe_database(url: str, table: str, *rows: int) -> Iterator[Database]:
    """A database holding ``table (n INTEGER)`` with ``rows``; dropped and disposed after."""
    database = Database(url)
    with database.transaction() as session:
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
        session.execute(text(f"CREATE TABLE {table} (n INTEGER)"))
        for n in rows:
            session.execute(text(f"INSERT INTO {table} VALUES (:n)"), {"n": n})
    try:
        yield database
    finally:
        database.background.close()
        with database.transaction() as session:
            session.execute(text(f"DROP TABLE {table}"))
        database.dispose()
