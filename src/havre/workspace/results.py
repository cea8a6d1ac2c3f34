"""What the workspace service returns to the faces (CLI, web)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class TableSummary:
    name: str
    rows: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class BuildResult:
    project_id: str
    version: int
    refreshed: bool
    permit_version: int
    dataset: str
    data_version: int
    tables: tuple[TableSummary, ...]
    rows: int
    persons: int
    new_persons: int  # persons numbered for the first time by this version
    bytes: int
    objectors_removed: int
    optouts_checked: bool
    seconds: float
    superseded: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["tables"] = [t.__dict__ for t in self.tables]
        return data


@dataclass(frozen=True)
class WorkspaceStatus:
    project_id: str
    built: bool
    version: int | None = None
    state: str | None = None
    readable: bool = False  # False once the project's key is destroyed
    dataset: str | None = None
    data_version: int | None = None
    permit_version: int | None = None
    access_level: str | None = None
    date_policy: str | None = None
    tables: tuple[TableSummary, ...] = ()
    rows: int | None = None
    persons: int | None = None
    bytes: int | None = None
    created_at: dt.datetime | None = None
    created_by: str | None = None
    optouts: dict[str, Any] = field(default_factory=dict)
    withheld: tuple[str, ...] = ()
    history: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["tables"] = [t.__dict__ for t in self.tables]
        return data


@dataclass(frozen=True)
class QueryResult:
    """A query's result, once checked. ``table`` holds the rows that may be shown."""

    table: pa.Table
    project_id: str
    workspace_version: int
    access_level: str
    sql_sha256: str
    truncated: bool  # more rows existed than the cap
    max_rows: int
    suppressed_rows: int  # aggregate-only: rows below the threshold, withheld
    threshold: int | None
    rules_fired: tuple[str, ...]
    seconds: float
    cold_load_seconds: float | None  # the workspace was loaded for this query

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def rows(self) -> list[list[Any]]:
        columns = [self.table.column(i).to_pylist() for i in range(self.table.num_columns)]
        return [list(row) for row in zip(*columns, strict=True)] if columns else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "workspace_version": self.workspace_version,
            "access_level": self.access_level,
            "sql_sha256": self.sql_sha256,
            "columns": self.columns,
            "types": [str(t) for t in self.table.schema.types],
            "rows": self.rows(),
            "row_count": self.table.num_rows,
            "truncated": self.truncated,
            "max_rows": self.max_rows,
            "suppressed_rows": self.suppressed_rows,
            "threshold": self.threshold,
            "rules_fired": list(self.rules_fired),
            "seconds": round(self.seconds, 4),
            "cold_load_seconds": (
                None if self.cold_load_seconds is None else round(self.cold_load_seconds, 4)
            ),
        }


@dataclass(frozen=True)
class PurgeResult:
    project_id: str
    versions: int
    removed_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
