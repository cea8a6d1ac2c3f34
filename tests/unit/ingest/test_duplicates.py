"""Duplicate and key-conflict flags: the bitmap that proves an integer key never repeats must
never hide a repeat that grouping the records finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from havre.core.config import Settings
from havre.ingest import resolve
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


def _stage(ctx: IngestContext, rows: list[tuple[int, str | None, str, str | None]]) -> str:
    """chk_test: (line_no, CLE_DCI_JNT, line text, problem) as a staged table holds them."""
    values = ", ".join(
        f"(0, {line}, hash('{text}'), hash('{text}' || 'x'), "
        f"{'NULL' if key is None else repr(key)}, {'NULL' if problem is None else repr(problem)})"
        for line, key, text, problem in rows
    )
    ctx.execute(
        "CREATE TEMP TABLE chk_test (file_id INTEGER, line_no BIGINT, h1 UBIGINT, h2 UBIGINT, "
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
        # distinct keys: nothing to flag (the bitmap's case)
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
    ],
)
def test_integer_keys_flagged_with_or_without_the_bitmap(
    ctx: IngestContext,
    rows: list[tuple[int, str | None, str, str | None]],
    expected: list[tuple[int, str]],
) -> None:
    assert _pairs(ctx, _stage(ctx, rows)) == expected


def test_a_key_range_too_wide_for_the_bitmap_is_grouped(ctx: IngestContext) -> None:
    relation = _stage(
        ctx,
        [(2, "1", "a", None), (3, str(1 << 40), "b", None), (4, str(1 << 40), "c", None)],
    )
    assert not resolve._distinct_integers(ctx, relation, 'TRY_CAST("CLE_DCI_JNT" AS BIGINT)')
    assert _pairs(ctx, relation) == [(4, "conflict")]


def test_the_bitmap_answers_only_for_integer_keys_without_nulls(ctx: IngestContext) -> None:
    relation = _stage(ctx, [(2, "1", "a", None), (3, "2", "b", None)])
    assert resolve._distinct_integers(ctx, relation, 'TRY_CAST("CLE_DCI_JNT" AS BIGINT)')
    assert not resolve._distinct_integers(ctx, relation, '"CLE_DCI_JNT"')  # text
    ctx.execute("INSERT INTO chk_test VALUES (0, 4, hash('c'), hash('cx'), 'x', NULL)")
    # a valid record whose key is not a number (NULL as a number): grouped as usual
    assert not resolve._distinct_integers(ctx, relation, 'TRY_CAST("CLE_DCI_JNT" AS BIGINT)')
