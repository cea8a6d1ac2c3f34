"""Duplicate and key-conflict flags (``flag_duplicates``): the keys that repeat are found by
sorting their hashes; no repeat may be missed, and a rejected record takes no key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from havre.core.config import Settings
from havre.ingest.context import IngestContext
from havre.ingest.resolve import flag_duplicates, key_sql
from havre.ingest.snds.tables import table_fields
from havre.lake.engine import DuckDBEngine

CLAIM_FIELDS = table_fields("ER_PRS_F")


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[IngestContext]:
    engine = DuckDBEngine(Settings(home=tmp_path, duckdb_memory_limit="256MB"))
    yield cast(IngestContext, SimpleNamespace(engine=engine, execute=engine.execute))
    engine.close()


def _stage(
    ctx: IngestContext,
    rows: list[tuple[int, str | None, str, str | None]],
    with_h2: bool = True,
) -> str:
    """chk_test: (line_no, CLE_DCI_JNT, line text, problem) as a staged table holds them
    (``with_h2``: both line hashes, as a table without a key is staged)."""
    h2 = " hash('{text}' || 'x')," if with_h2 else ""
    values = ", ".join(
        f"(0, {line}, hash('{text}'),{h2.format(text=text)} "
        f"{'NULL' if key is None else repr(key)}, {'NULL' if problem is None else repr(problem)})"
        for line, key, text, problem in rows
    )
    h2_column = " h2 UBIGINT," if with_h2 else ""
    ctx.execute(
        f"CREATE TEMP TABLE chk_test (file_id INTEGER, line_no BIGINT, h1 UBIGINT,{h2_column} "
        '"CLE_DCI_JNT" VARCHAR, problem VARCHAR)'
    )
    ctx.execute(f"INSERT INTO chk_test VALUES {values}")
    return "chk_test"


def _pairs(ctx: IngestContext, relation: str) -> list[tuple[int, str]]:
    flags = flag_duplicates(ctx, relation, key_sql(CLAIM_FIELDS, ["CLE_DCI_JNT"]))
    rows = ctx.engine.sql(f"SELECT line_no, flag FROM {flags} ORDER BY line_no").to_pylist()
    return [(r["line_no"], r["flag"]) for r in rows]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # distinct keys: nothing to flag
        ([(2, "1", "a", None), (3, "2", "b", None), (4, "5", "c", None)], []),
        # the same line twice: a duplicate
        ([(2, "1", "a", None), (3, "2", "b", None), (4, "2", "b", None)], [(4, "duplicate")]),
        # the same key, other content: a conflict
        ([(2, "1", "a", None), (3, "2", "b", None), (4, "2", "c", None)], [(4, "conflict")]),
        # keys equal as numbers, not as text
        ([(2, "7", "a", None), (3, "007", "b", None)], [(3, "conflict")]),
        # a rejected record takes no key
        ([(2, "1", "a", None), (3, "1", "b", "wrong_type|PRS_NAT_REF")], []),
        # negative and far apart keys
        ([(2, "-5", "a", None), (3, "-5", "b", None), (4, "9", "c", None)], [(3, "conflict")]),
        # the first and the last of many: neighbours only once sorted
        (
            [(2, "42", "a", None)]
            + [(n, str(n * 1000), f"l{n}", None) for n in range(3, 200)]
            + [(200, "42", "a", None), (201, "42", "z", None)],
            [(200, "duplicate"), (201, "conflict")],
        ),
    ],
)
@pytest.mark.parametrize("with_h2", [True, False])
def test_repeated_keys_are_flagged(
    ctx: IngestContext,
    rows: list[tuple[int, str | None, str, str | None]],
    expected: list[tuple[int, str]],
    with_h2: bool,
) -> None:
    # a keyed table is staged with one line hash (``keyed``): the same flags
    assert _pairs(ctx, _stage(ctx, rows, with_h2)) == expected


def test_identical_lines_without_a_key_are_duplicates(ctx: IngestContext) -> None:
    relation = _stage(
        ctx,
        [(2, None, "a", None), (3, None, "b", None), (4, None, "a", None), (5, None, "a", None)],
    )
    flags = flag_duplicates(ctx, relation)
    rows = ctx.engine.sql(f"SELECT line_no, flag FROM {flags} ORDER BY line_no").to_pylist()
    assert [(r["line_no"], r["flag"]) for r in rows] == [(4, "duplicate"), (5, "duplicate")]
