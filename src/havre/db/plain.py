"""Constant statements run on a DBAPI connection, without the engine's execution machinery.

A warm workspace query ends with a handful of statements to the governance store (the change
counter, the audit head, the entry, the head again). Through a session they cost ~0.8 ms of
CPU per query, most of it SQLAlchemy's own work; here they cost ~0.1 ms. The statements are
still SQLAlchemy's: each is compiled once per dialect, and its parameters go through the
column types' bind processors, so the text and the stored values are the sessions' own.
Results come back as plain tuples, unprocessed: read only integers and strings this way.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import Compiled


class _Statement:
    """One statement compiled for one dialect."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        self.compiled: Compiled = statement.compile(dialect=dialect)
        self.sql = str(self.compiled)
        # the parameters' order for positional styles (SQLite's ?), None for named ones
        self.order: Sequence[str] | None = getattr(self.compiled, "positiontup", None)
        self.processors: Mapping[str, Any] = getattr(self.compiled, "_bind_processors", {})
        # every parameter with the value the statement gives it (None where the caller must)
        self.defaults: dict[str, Any] = dict(
            self.compiled.construct_params(_check=False) or {}  # type: ignore[call-arg]
        )
        self.required = frozenset(name for name, value in self.defaults.items() if value is None)

    def parameters(self, values: Mapping[str, Any] | None) -> Sequence[Any] | dict[str, Any]:
        given = values or {}
        if not self.required <= given.keys() or not given.keys() <= self.defaults.keys():
            missing = sorted(self.required - given.keys())
            unknown = sorted(given.keys() - self.defaults.keys())
            raise KeyError(f"parameters missing {missing} or unknown {unknown}: {self.sql}")
        params = {**self.defaults, **given}
        for name, process in self.processors.items():
            if params[name] is not None:
                params[name] = process(params[name])
        if self.order is not None:
            return [params[name] for name in self.order]
        return params


class Statements:
    """The compiled statements of one database (shared by its threads)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._lock = threading.Lock()
        self._compiled: dict[ClauseElement, _Statement] = {}

    def get(self, statement: ClauseElement) -> _Statement:
        found = self._compiled.get(statement)
        if found is None:
            with self._lock:
                found = self._compiled.setdefault(statement, _Statement(statement, self.dialect))
        return found


class PlainTransaction:
    """Statements on one DBAPI cursor: in one transaction (``Database.plain_transaction``;
    ``abandon`` rolls it back at the end of the block instead of committing), or one lone
    statement in autocommit (``Database.scalar``)."""

    def __init__(self, cursor: Any, statements: Statements) -> None:
        self._cursor = cursor
        self._statements = statements
        self.abandoned = False

    def rows(self, statement: ClauseElement, values: Mapping[str, Any] | None = None) -> list[Any]:
        compiled = self._statements.get(statement)
        self._cursor.execute(compiled.sql, compiled.parameters(values))
        if self._cursor.description is None:
            return []
        return list(self._cursor.fetchall())

    def scalar(self, statement: ClauseElement) -> Any:
        found = self.rows(statement)
        if len(found) != 1:
            raise LookupError(f"expected one row, got {len(found)}")
        return found[0][0]

    def execute_many(self, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = self._statements.get(statement)
        self._cursor.executemany(compiled.sql, [compiled.parameters(row) for row in rows])

    def abandon(self) -> None:
        self.abandoned = True
