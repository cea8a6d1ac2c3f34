"""Screening a researcher's SQL before it runs: one read-only query over this workspace only.

The SQL is parsed by DuckDB itself (the engine that would run it, so no parser disagreement
can hide a statement): exactly one statement, of type SELECT; then its parse tree
(``json_serialize_sql``) is walked: every table it reads is one of the workspace's tables or a
CTE of the query, unqualified; every table function is one of a few generators; no function
that reads files, settings or the environment. This is the first wall; the second is the
sandbox's locked configuration (no file or network access, no setting changes), which holds
even if the parser were fooled.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Set
from dataclasses import dataclass
from typing import Any

import duckdb

from havre.core.errors import PermissionDenied

MAX_SQL_CHARS = 100_000
PASSED_CACHE = 512
# Table functions that only generate values
TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# Scalar functions refused outright (the locked sandbox refuses most of them anyway)
BLOCKED_FUNCTIONS = frozenset(
    {
        "getenv",
        "current_setting",
        "getvariable",
        "json_execute_serialized_sql",
        "query",
        "query_table",
        "sql_auto_complete",
        "which_secret",
        "glob",
    }
)
BLOCKED_PREFIXES = ("read_", "duckdb_", "pragma_", "parquet_", "iceberg_", "delta_", "sniff_")
TABLE_REFS = frozenset(
    {
        "BASE_TABLE",
        "JOIN",
        "SUBQUERY",
        "TABLE_FUNCTION",
        "EXPRESSION_LIST",
        "EMPTY_FROM",
        "EMPTY",
        "PIVOT",
        "SHOW_REF",
    }
)


class QueryRefused(PermissionDenied):
    """The sandbox refuses this query (it is audited as denied)."""


@dataclass(frozen=True)
class Screened:
    tables: frozenset[str]  # workspace tables the query reads
    functions: frozenset[str]


class Screener:
    """Parses with an empty, locked DuckDB that never holds data."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._passed: OrderedDict[tuple[str, frozenset[str]], Screened] = OrderedDict()
        self._connection = duckdb.connect(
            ":memory:",
            config={
                "threads": 1,
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "python_enable_replacements": False,
                "lock_configuration": True,
            },
        )

    def screen(self, sql: str, workspace_tables: Set[str]) -> Screened:
        """What the query reads, or ``QueryRefused`` saying why it may not run."""
        key = (sql, frozenset(t.lower() for t in workspace_tables))
        with self._lock:
            known = self._passed.get(key)
            if known is not None:
                self._passed.move_to_end(key)
                return known
        screened = self._screen(sql, workspace_tables)
        with self._lock:  # a pure function of the text and the tables: re-runs are common
            self._passed[key] = screened
            while len(self._passed) > PASSED_CACHE:
                self._passed.popitem(last=False)
        return screened

    def _screen(self, sql: str, workspace_tables: Set[str]) -> Screened:
        text = sql.strip()
        if not text:
            raise QueryRefused("The query is empty.", hint="give one SELECT statement")
        if len(text) > MAX_SQL_CHARS:
            raise QueryRefused(
                f"The query is {len(text)} characters long (at most {MAX_SQL_CHARS}).",
                hint="a query this long is data, not a question; build it from smaller steps",
            )
        with self._lock:
            statements = self._statements(text)
            if len(statements) != 1:
                raise QueryRefused(
                    f"The query holds {len(statements)} statements; one SELECT is allowed.",
                    hint="send one statement, without a second one after a ';'",
                )
            kind = statements[0].type
            if kind != duckdb.StatementType.SELECT:
                raise QueryRefused(
                    f"Only a SELECT query may run in a workspace; this is a {kind.name} statement.",
                    hint="the workspace is read-only: no SET, PRAGMA, COPY, ATTACH, INSTALL, "
                    "LOAD, CREATE, INSERT, EXPORT or CALL",
                )
            rows = self._connection.execute("SELECT json_serialize_sql(?)", [text]).fetchall()
        tree = json.loads(rows[0][0])
        if tree.get("error"):
            raise QueryRefused(
                f"The query cannot be screened: {tree.get('error_message', 'unknown reason')}.",
                hint="give one plain SELECT statement",
            )
        return _check_tree(tree, {t.lower() for t in workspace_tables})

    def _statements(self, text: str) -> list[Any]:
        try:
            return list(self._connection.extract_statements(text))
        except duckdb.Error as exc:
            raise QueryRefused(f"The query is not valid SQL: {exc}") from None

    def close(self) -> None:
        self._connection.close()


def _check_tree(tree: dict[str, Any], workspace: set[str]) -> Screened:
    ctes = {name.lower() for name in _cte_names(tree)}
    tables: set[str] = set()
    functions: set[str] = set()
    for node in _nodes(tree):
        kind = node.get("type")
        if node.get("class") == "FUNCTION":
            name = str(node.get("function_name", "")).lower()
            functions.add(name)
            if node.get("schema") or node.get("catalog"):
                raise QueryRefused(
                    f"The function '{node.get('schema')}.{name}' is qualified; "
                    "only the engine's own functions may be called."
                )
            if name in BLOCKED_FUNCTIONS or name.startswith(BLOCKED_PREFIXES):
                raise QueryRefused(
                    f"The function {name}() is not allowed in a workspace (it reads files, "
                    "settings or the environment).",
                    hint="query the workspace's tables only",
                )
        if kind == "BASE_TABLE" and "table_name" in node:
            name = str(node["table_name"]).lower()
            if node.get("schema_name") or node.get("catalog_name"):
                qualified = ".".join(
                    p for p in (node.get("catalog_name"), node.get("schema_name"), name) if p
                )
                raise QueryRefused(
                    f"The query names '{qualified}', outside this workspace.",
                    hint=f"this workspace's tables: {', '.join(sorted(workspace))}",
                )
            if name not in workspace and name not in ctes:
                raise QueryRefused(
                    f"The query names '{node['table_name']}', which is not a table of this "
                    "workspace.",
                    hint=f"this workspace's tables: {', '.join(sorted(workspace))}",
                )
            if name in workspace:
                tables.add(name)
        elif kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if name not in TABLE_FUNCTIONS:
                raise QueryRefused(
                    f"The table function {name}() is not allowed in a workspace.",
                    hint=f"allowed: {', '.join(sorted(TABLE_FUNCTIONS))}; files cannot be read",
                )
        elif _is_table_ref(node) and kind not in TABLE_REFS:
            raise QueryRefused(f"The query uses a {kind} table reference, which is not allowed.")
    return Screened(frozenset(tables), frozenset(functions))


def _is_table_ref(node: dict[str, Any]) -> bool:
    return "sample" in node and "alias" in node and "class" not in node and "type" in node


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _cte_names(tree: dict[str, Any]) -> Iterator[str]:
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []):
                if isinstance(entry, dict) and "key" in entry:
                    yield str(entry["key"])
