"""The airlock's door into a workspace: the person-level rows behind a release output.

An output of the airlock is defined by a query over the workspace that returns one row per
person (or per record) with a person column, dimensions and an optional value. The airlock
needs those rows to build the cell table with distinct-person counts; the researcher must not
get them (an aggregate-only permit never shows rows). ``evaluate_output`` runs the query in the
same locked sandbox as a researcher query (permit check, screening, time and memory limits) and
returns the rows to the calling service only, with an audit entry of its own
(``workspace.evaluate``).

Two guards specific to outputs:

* the person column must be a plain copy of a workspace table's ``person_id`` through every
  level of the query (as for aggregate-only counts): declaring a record id as the "person"
  would inflate every count;
* the rows are refused, never truncated, past ``release_max_rows``: a truncated output would
  silently count fewer persons than it describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from havre.core.actor import Actor
from havre.core.errors import UsageError
from havre.core.hashing import sha256_text
from havre.governance.projects import AccessLevel
from havre.workspace.actions import WorkspaceAction
from havre.workspace.aggregate import DIALECT, MAX_DEPTH, PERSON, _genuine
from havre.workspace.querying import QueryingMixin
from havre.workspace.screen import QueryRefused

ACTION = WorkspaceAction.EVALUATE


@dataclass(frozen=True)
class OutputRows:
    """The rows of an output's query, with where they come from (for the provenance)."""

    table: pa.Table
    project_id: str
    workspace_version: int
    permit_version: int
    permit_sha256: str
    dataset: str
    data_version: int
    data_version_id: str
    sql_sha256: str
    seconds: float


class OutputsMixin(QueryingMixin):
    def evaluate_output(
        self,
        actor: Actor,
        project_id: str,
        sql: str,
        *,
        person_column: str,
        request_id: str,
        output_name: str,
    ) -> OutputRows:
        """The person-level rows of one airlock output, for the airlock only (see above)."""
        digest = sha256_text(sql)
        details: dict[str, Any] = {
            "sql_sha256": digest,
            "sql_chars": len(sql),
            "request_id": request_id,
            "output": output_name[:64],
        }
        self._require_justification(actor, ACTION, project_id)
        try:
            rows = self._evaluate(actor, project_id, sql, digest, person_column, details)
        except Exception as error:
            self._failed(actor, ACTION, project_id, details, error)
            raise
        with self._recording(actor, ACTION, project_id) as scope:
            scope.details = {
                **details,
                "rows": rows.table.num_rows,
                "columns": rows.table.num_columns,
                "seconds": round(rows.seconds, 3),
            }
        return rows

    def _evaluate(
        self,
        actor: Actor,
        project_id: str,
        sql: str,
        digest: str,
        person_column: str,
        details: dict[str, Any],
    ) -> OutputRows:
        permit, row = self._admit(actor, project_id, sql, details)
        entry, _ = self._loaded(project_id, permit, row)
        check_person_column(sql, person_column, entry.schema)
        cap = self.settings.release_max_rows
        row_level = permit.access_level is AccessLevel.ROW_LEVEL
        raw = entry.database.run(sql, max_rows=cap, quote_errors=row_level)
        if raw.truncated:
            raise UsageError(
                f"The query of output {output_label(details)} returns more than {cap} rows, the "
                "most an airlock output may use.",
                hint="select only the persons and columns the table needs (or ask the hub to "
                "raise HAVRE_RELEASE_MAX_ROWS)",
            )
        if person_column not in raw.table.column_names:
            raise UsageError(
                f"The query of output {output_label(details)} has no column {person_column!r}.",
                hint=f"its columns are: {', '.join(raw.table.column_names)}",
            )
        self.journal(project_id).record(sql, digest)
        return OutputRows(
            table=raw.table,
            project_id=project_id,
            workspace_version=row.version,
            permit_version=permit.version,
            permit_sha256=permit.sha256,
            dataset=row.dataset,
            data_version=row.data_version,
            data_version_id=row.data_version_id,
            sql_sha256=digest,
            seconds=raw.seconds,
        )


def output_label(details: Mapping[str, Any]) -> str:
    return f"{details['output']!r} of {details['request_id']}"


def check_person_column(sql: str, column: str, schema: Mapping[str, Mapping[str, str]]) -> None:
    """Refuse a query whose ``column`` is not a workspace table's own ``person_id``."""
    refusal = QueryRefused(
        f"The person column {column!r} of this output is not a workspace table's person_id: "
        "counts of an output are counts of distinct persons.",
        hint="select person_id from a workspace table (an alias of it is fine), naming its "
        "table when the query joins several (p.person_id)",
    )
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=DIALECT) if s is not None]
        if len(statements) != 1:
            raise refusal
        qualified = qualify(
            statements[0].copy(),
            schema={t: dict(c) for t, c in schema.items()},
            dialect=DIALECT,
            validate_qualify_columns=False,
        )
        scope = build_scope(qualified)
    except SqlglotError:
        raise refusal from None
    if scope is None or not _carries_persons(scope, column.lower(), schema, 0):
        raise refusal


def _carries_persons(
    scope: Scope, column: str, schema: Mapping[str, Mapping[str, str]], depth: int
) -> bool:
    if depth > MAX_DEPTH:
        return False
    branches = scope.set_operation_scopes
    if branches:
        return all(_carries_persons(s, column, schema, depth + 1) for s in branches)
    select = scope.expression
    if not isinstance(select, sqlglot.exp.Select):
        return False
    named = [p for p in select.selects if p.alias_or_name.lower() == column]
    if len(named) != 1:
        return False
    source = named[0].unalias()
    if not isinstance(source, sqlglot.exp.Column) or source.name.lower() != PERSON:
        return False
    inner = scope.sources.get(source.table)
    return inner is not None and _genuine(inner, schema, depth + 1)
