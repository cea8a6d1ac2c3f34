"""From checked records to resolved ones: exact duplicates, key conflicts, final status.

Precedence (docs/ingest.md): a record that fails a check — its own fields, then its references
— is quarantined; else an exact duplicate of an earlier record is a duplicate; else a record
whose key another, different record already holds is quarantined (conflicting key); else a
record of an opted-out person is opted out; else it is loaded.
"""

from __future__ import annotations

from havre.ingest.context import IngestContext
from havre.ingest.fields import Field, Kind, date_column, quarantine_value_sql, quote
from havre.ingest.ids import LINE_BITS
from havre.ingest.model import (
    DUPLICATE,
    LOADED,
    OPTED_OUT,
    QUARANTINED,
    ResolvedTable,
    StageJoin,
    line_hashes,
)
from havre.ingest.reasons import Reason
from havre.lake.engine import sql_literal


def position(alias: str = "") -> str:
    """SQL: a record's place in the delivery (file, then line), as one BIGINT below 2^44."""
    prefix = f"{alias}." if alias else ""
    return f"(CAST({prefix}file_id AS BIGINT) * {1 << LINE_BITS} + {prefix}line_no)"


def key_sql(fields: tuple[Field, ...], names: list[str]) -> list[str]:
    """SQL: a record's key as ``flag_duplicates`` compares it. An integer field is compared
    as the number it holds: its children find it by that number (``'007'`` and ``'7'`` are
    one claim key), so two records holding it as different text must conflict."""
    kinds = {f.name: f.kind for f in fields}
    return [
        f"TRY_CAST({quote(name)} AS BIGINT)" if kinds.get(name) is Kind.INTEGER else quote(name)
        for name in names
    ]


def flag_duplicates(
    ctx: IngestContext,
    relation: str,
    key: list[str] | None = None,
    partition: list[str] | None = None,
) -> str:
    """Create ``flags_<relation>`` (``file_id``, ``line_no``, ``flag``): the records that are
    exact duplicates of an earlier valid record, and those whose ``key`` an earlier, different
    valid record holds. Sparse: only flagged records have a row. ``key``: SQL expressions over
    the relation's columns (``key_sql``); ``partition``: columns telling apart the source
    tables a relation holds (records of two tables never clash).

    One sort of the valid records' key hashes finds the groups that hold several of them (by
    key, or by line hash without one: identical lines share both); only their records are looked at
    further, and when there are none (the usual case) nothing else is read. With a ``key``,
    exact duplicates are told by ``h1`` alone among the records sharing a key (a keyed table
    may be staged without ``h2``: two different lines of one key sharing a 64-bit hash is a
    chance of 2^-64); without one, by both hashes over the whole table.
    """
    flags = f"flags_{relation}"
    shared = f"shared_{relation}"
    parts = [quote(p) for p in partition or []]
    listed = ", ".join([*parts, *(key or ["h1"])])
    # a 64-bit hash of the key, cheaper than the text itself; a collision only makes a few
    # more candidates, which are then grouped by the key's values. The hashes that repeat are
    # found by sorting them, each compared with the next: a hash aggregate would keep a group
    # per record (nearly every key is unique), which cost a third more here
    ctx.execute(
        f"CREATE TEMP TABLE {shared} AS SELECT DISTINCT kh FROM ("
        f"SELECT kh, lead(kh) OVER (ORDER BY kh) AS next_kh FROM ("
        f"SELECT hash({listed}) AS kh FROM {relation} WHERE problem IS NULL)"
        f") WHERE kh = next_kh"
    )
    empty = "SELECT CAST(NULL AS INTEGER) AS file_id, CAST(NULL AS BIGINT) AS line_no, "
    empty += "CAST(NULL AS VARCHAR) AS flag WHERE false"
    if not ctx.engine.scalar(f"SELECT count(*) FROM {shared}"):
        ctx.execute(f"CREATE TEMP TABLE {flags} AS {empty}")
        ctx.execute(f"DROP TABLE {shared}")
        return flags
    candidates = f"candidates_{relation}"
    keys = [f"key_{i}" for i in range(len(key or []))]
    named = "".join(f", {expr} AS {name}" for expr, name in zip(key or [], keys, strict=True))
    hashes = line_hashes(bool(key))
    same = ", ".join([*parts, *hashes])
    same_on = " AND ".join(f"c.{g} = f.{g}" for g in [*parts, *hashes])
    ctx.execute(
        f"CREATE TEMP TABLE {candidates} AS SELECT c.*, {position('c')} AS pos{named} "
        f"FROM {relation} AS c JOIN {shared} AS m ON hash({listed}) = m.kh "
        f"WHERE c.problem IS NULL"
    )
    ctx.execute(
        f"""
        CREATE TEMP TABLE {flags} AS
        WITH firsts AS (
            SELECT {same}, min(pos) AS first_pos
            FROM {candidates} GROUP BY {same} HAVING count(*) > 1
        )
        SELECT c.file_id, c.line_no, '{DUPLICATE}' AS flag
        FROM {candidates} AS c JOIN firsts AS f ON {same_on}
        WHERE c.pos <> f.first_pos
        """
    )
    if key:
        group = [*parts, *keys]
        by = ", ".join(group)
        joined = " AND ".join(f"c.{g} = m.{g}" for g in group)
        ctx.execute(
            f"""
            INSERT INTO {flags}
            WITH kept AS (
                SELECT c.* FROM {candidates} AS c
                LEFT JOIN {flags} AS d ON c.file_id = d.file_id AND c.line_no = d.line_no
                WHERE d.flag IS NULL
            ),
            multi AS (
                SELECT {by}, min(pos) AS first_pos
                FROM kept GROUP BY {by} HAVING count(*) > 1
            )
            SELECT c.file_id, c.line_no, 'conflict' AS flag
            FROM kept AS c JOIN multi AS m ON {joined}
            WHERE c.pos <> m.first_pos
            """
        )
    ctx.execute(f"DROP TABLE {candidates}")
    ctx.execute(f"DROP TABLE {shared}")
    return flags


def drop_line_hashes(ctx: IngestContext, relation: str) -> None:
    """Drop the line hashes of a staged table once its duplicates are flagged: nothing reads
    them after, and they are a fifth of a large table's row (the engine frees them at once)."""
    ctx.execute(f"ALTER TABLE {relation} DROP COLUMN h1")
    ctx.execute(f"ALTER TABLE {relation} DROP COLUMN IF EXISTS h2")  # a keyed table has none


def status_sql(
    *,
    problem: str = "c.problem",
    reference_problem: str = "CAST(NULL AS VARCHAR)",
    flag: str = "f.flag",
    opted_out: str = "false",
    key_label: str = "",
) -> tuple[str, str]:
    """SQL for (``status``, ``problem``) of a resolved record, in the order of precedence."""
    status = f"""CASE
            WHEN {problem} IS NOT NULL THEN '{QUARANTINED}'
            WHEN {reference_problem} IS NOT NULL THEN '{QUARANTINED}'
            WHEN {flag} = '{DUPLICATE}' THEN '{DUPLICATE}'
            WHEN {flag} = 'conflict' THEN '{QUARANTINED}'
            WHEN {opted_out} THEN '{OPTED_OUT}'
            ELSE '{LOADED}' END"""
    conflict = sql_literal(f"{Reason.CONFLICTING_KEY.value}|{key_label}")
    final_problem = (
        f"coalesce({problem}, {reference_problem}, "
        f"CASE WHEN {flag} = 'conflict' THEN {conflict} END)"
    )
    return status, final_problem


def reference_problem_sql(
    parent_status: str,
    *,
    unknown: Reason,
    field: str,
    then: tuple[tuple[str, Reason, str], ...] = (),
) -> str:
    """SQL: the problem of a record from the status of what it refers to (NULL: none).

    ``parent_status`` is NULL when nothing matches (unknown), ``quarantined`` when what it
    refers to was rejected, ``loaded`` / ``opted_out`` otherwise. ``then``: further
    (condition, reason, field) checks against the parent, in order (a date before birth).
    """
    further = " ".join(
        f"WHEN {condition} THEN {sql_literal(f'{reason.value}|{name}')}"
        for condition, reason, name in then
    )
    return (
        f"CASE WHEN {parent_status} IS NULL THEN {sql_literal(f'{unknown.value}|{field}')} "
        f"WHEN {parent_status} = '{QUARANTINED}' "
        f"THEN {sql_literal(f'{Reason.PARENT_QUARANTINED.value}|{field}')} {further} END"
    )


def before_birth(
    fields: tuple[Field, ...], born: str, alias: str = "c", *, typed: bool = False
) -> tuple[tuple[str, Reason, str], ...]:
    """Checks that no date of a record is before the person's birth (``born``: SQL DATE).
    ``typed``: the dates are in their ``date_column`` (a record being staged)."""
    return tuple(
        (
            f"{alias}.{date_column(f)} < {born}"
            if typed
            else f"TRY_CAST({alias}.{f.column} AS DATE) < {born}",
            Reason.DATE_OUT_OF_RANGE,
            f.name,
        )
        for f in fields
        if f.kind is Kind.DATE
    )


def resolved_view(
    ctx: IngestContext,
    table: str,
    fields: tuple[Field, ...],
    *,
    key: list[str] | None = None,
    carried: tuple[str, ...] = (),
    keep: frozenset[str] | None = None,
    partition: list[str] | None = None,
) -> ResolvedTable:
    """``res_<table>``: a view giving each staged record its final status.

    The record's own and reference problems were found while staging; only the exact
    duplicates and key conflicts (sparse flags) are joined here — and not at all when there
    are none — so reading a status again costs a scan, not a copy of the table. ``keep``: the
    fields the table was staged with (``stage_delimited``); ``partition``: see
    ``flag_duplicates``.
    """
    chk = f"chk_{table}"
    flags = flag_duplicates(ctx, chk, key_sql(fields, key) if key else None, partition)
    drop_line_hashes(ctx, chk)
    flagged = bool(ctx.engine.scalar(f"SELECT count(*) FROM {flags}"))
    flag = "f.flag" if flagged else "CAST(NULL AS VARCHAR)"
    label = ",".join(key or [])
    status, problem = status_sql(opted_out="c.opted", key_label=label, flag=flag)
    kept = tuple(f for f in fields if keep is None or f.name in keep)
    columns = ", ".join([*(f"c.{f.column}" for f in kept), *(f"c.{quote(n)}" for n in carried)])
    conflict = quarantine_value_sql(kept, sql_literal(label), "c")
    join = (
        f"LEFT JOIN {flags} AS f ON f.file_id = c.file_id AND f.line_no = c.line_no"
        if flagged
        else ""
    )
    ctx.execute(
        f"""
        CREATE TEMP VIEW res_{table} AS
        SELECT c.file_id, c.line_no, {position("c")} AS pos, {columns},
               {status} AS status, {problem} AS problem,
               coalesce(c.qvalue, CASE WHEN {flag} = 'conflict' THEN {conflict} END) AS qvalue
        FROM {chk} AS c {join}
        """
    )
    return ResolvedTable(table, f"res_{table}", kept, quarantine_value="r.qvalue")


def parent_keys(
    ctx: IngestContext, parent: str, keys: list[str], copied: dict[str, str]
) -> tuple[str, str]:
    """What children of ``parent`` look up: ``keys_<parent>`` (the kept records: ``k0``..,
    ``popted`` and ``copied`` columns; a view, read once by each child's staging join) and
    ``qkeys_<parent>`` (quarantined keys, few). ``popted`` (the parent opted out) is a
    BOOLEAN, not the status's text: the join's hash table holds a row per kept parent (42M
    claim lines at 1M persons), where the text took 16 bytes a row and the flag takes one."""
    named = ", ".join(f"{expr} AS k{i}" for i, expr in enumerate(keys))
    extra = "".join(f", {expr} AS {name}" for name, expr in copied.items())
    ctx.execute(
        f"CREATE TEMP VIEW keys_{parent} AS SELECT {named}, "
        f"status = '{OPTED_OUT}' AS popted{extra} "
        f"FROM res_{parent} WHERE status IN ('{LOADED}', '{OPTED_OUT}')"
    )
    listed = ", ".join(f"k{i}" for i in range(len(keys)))
    ctx.execute(
        f"CREATE TEMP TABLE qkeys_{parent} AS SELECT DISTINCT {listed} FROM "
        f"(SELECT {named} FROM res_{parent} WHERE status = '{QUARANTINED}')"
    )
    return f"keys_{parent}", f"qkeys_{parent}"


def parent_join(
    parent: str,
    mine: list[str],
    unknown: Reason,
    reported_field: str,
    copied: tuple[str, ...],
) -> StageJoin:
    """The join of a staged record (alias ``s``) to its parent's keys (``parent_keys``)."""
    on_p = " AND ".join(f"p.k{i} = {expr}" for i, expr in enumerate(mine))
    on_q = " AND ".join(f"q.k{i} = {expr}" for i, expr in enumerate(mine))
    parent_status = (
        f"CASE WHEN p.popted THEN '{OPTED_OUT}' WHEN NOT p.popted THEN '{LOADED}' "
        f"WHEN q.k0 IS NOT NULL THEN '{QUARANTINED}' END"
    )
    return StageJoin(
        clause=f"LEFT JOIN keys_{parent} AS p ON {on_p} LEFT JOIN qkeys_{parent} AS q ON {on_q}",
        reference=reference_problem_sql(parent_status, unknown=unknown, field=reported_field),
        opted_out="p.popted",
        columns={name: f"p.{name}" for name in copied},
        named=(reported_field,),
    )
