"""From person-level rows to a ``CellTable``, in DuckDB SQL (vectorized, bounded memory).

The unit is the person: rows are first summed per person and cell, so a person with several
records counts once and contributes one amount. Cells are the cross of all levels (observed
and declared), empty ones included. The SQL keeps to the engine's portable subset.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa

from havre.core.errors import DataValidationError, EngineError, UsageError
from havre.core.ids import new_id
from havre.disclosure.cells import (
    MISSING_LEVEL,
    BoolArray,
    CellTable,
    FloatArray,
    IntArray,
    Magnitudes,
    TableKind,
)
from havre.disclosure.margins import fill_extreme, fill_sums, fill_tops
from havre.lake.engine import Engine

if TYPE_CHECKING:
    import pyarrow.dataset as ds

MAX_LEVELS = 5_000
MAX_POSITIONS = 2_000_000


@dataclass(frozen=True)
class TableSpec:
    persons: str
    dims: tuple[str, ...]
    kind: TableKind = TableKind.COUNT
    value: str | None = None
    levels: Mapping[str, Sequence[str]] = field(default_factory=dict)
    structural_zeros: Sequence[Sequence[str]] = ()
    margins: bool = True
    top_n: int = 2

    def __post_init__(self) -> None:
        if not self.dims:
            raise UsageError("A table needs at least one dimension")
        if len(set(self.dims)) != len(self.dims):
            raise UsageError(f"A dimension is repeated: {', '.join(self.dims)}")
        if self.persons in self.dims:
            raise UsageError(f"The person column {self.persons!r} cannot also be a dimension")
        if self.kind.is_magnitude and not self.value:
            raise UsageError(f"A {self.kind.value} table needs a value column")
        if not self.kind.is_magnitude and self.value:
            raise UsageError("A count table counts persons: give no value column")
        unknown = set(self.levels) - set(self.dims)
        if unknown:
            raise UsageError(f"Levels given for {', '.join(sorted(unknown))}, not a dimension")
        for cell in self.structural_zeros:
            if len(cell) != len(self.dims):
                raise UsageError(
                    f"Structural zero {tuple(cell)} needs one value per dimension "
                    f"({', '.join(self.dims)})"
                )

    @property
    def columns(self) -> list[str]:
        return [self.persons, *self.dims, *([self.value] if self.value else [])]


class LocalDuckDB:
    """A private in-memory DuckDB for callers without a hub (e.g. the CLI on a file)."""

    name = "duckdb"

    def __init__(self, memory_limit: str = "2GB", threads: int = 2) -> None:
        self.connection = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": memory_limit,
                "threads": threads,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
        self._keep: list[Any] = []

    def register(self, name: str, data: pa.Table | pa.RecordBatchReader | ds.Dataset) -> None:
        self._keep.append(data)
        self.connection.register(name, data)

    def sql(self, query: str) -> pa.Table:
        try:
            return self.connection.sql(query).to_arrow_table()
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB failed: {exc}") from exc

    def execute(self, statement: str) -> None:
        try:
            self.connection.execute(statement)
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB failed: {exc}") from exc

    def close(self) -> None:
        self.connection.close()


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def aggregate(
    source: pa.Table | pa.RecordBatchReader | ds.Dataset,
    spec: TableSpec,
    *,
    engine: Engine | None = None,
) -> CellTable:
    """The cell table of ``source`` (one row per person, or per record with the person column)."""
    names = source.schema.names
    missing = [c for c in spec.columns if c not in names]
    if missing:
        raise DataValidationError(
            f"Column(s) {', '.join(missing)} not found in the input",
            hint=f"available columns: {', '.join(names)}",
        )
    own = engine is None
    sql: Any = LocalDuckDB() if engine is None else engine
    try:
        return _Aggregation(sql, spec, new_id("sdc")).run(source)
    finally:
        if own:
            sql.close()


class _Aggregation:
    def __init__(self, sql: Any, spec: TableSpec, tag: str) -> None:
        self.sql = sql
        self.spec = spec
        self.tag = tag
        self.notes: list[str] = []
        self.n_top = max(2, spec.top_n)

    def name(self, what: str) -> str:
        return f"{what}_{self.tag}"

    def run(self, source: pa.Table | pa.RecordBatchReader | ds.Dataset) -> CellTable:
        spec = self.spec
        temps: list[str] = []
        try:
            self.sql.register(self.name("src"), source)
            self._person_cells()
            temps.append(self.name("pc"))
            levels = self._levels()
            shape = tuple(len(lv) + 1 for lv in levels)
            self._encode(levels, shape)
            temps.append(self.name("pcc"))
            additive = self._additive()
            if not additive:
                self.notes.append(
                    "some persons fall in several cells: margins count each person once, "
                    "so they are less than the sum of their cells"
                )
            persons, magnitudes = self._cells(shape, levels, additive)
        finally:
            for table in temps:
                self.sql.execute(f"DROP TABLE IF EXISTS {table}")
        structural = self._structural(levels, shape, persons)
        return CellTable(
            dims=spec.dims,
            levels=levels,
            kind=spec.kind,
            persons=persons,
            magnitudes=magnitudes,
            margins=spec.margins,
            additive=additive,
            structural_zeros=structural,
            value_name=spec.value,
            notes=tuple(self.notes),
        )

    def _person_cells(self) -> None:
        spec = self.spec
        dims = ", ".join(
            f"COALESCE(CAST({quote(d)} AS VARCHAR), '{MISSING_LEVEL}') AS d{k}"
            for k, d in enumerate(spec.dims)
        )
        group = ", ".join(["person", *(f"d{k}" for k in range(len(spec.dims)))])
        value = f", SUM(CAST({quote(spec.value)} AS DOUBLE)) AS v" if spec.value else ""
        try:
            self.sql.execute(
                f"CREATE TEMP TABLE {self.name('pc')} AS "
                f"SELECT CAST({quote(spec.persons)} AS VARCHAR) AS person, {dims}{value} "
                f"FROM {self.name('src')} GROUP BY {group}"
            )
        except EngineError as exc:
            # A streamed file fails only when the bad block is reached, inside the engine.
            marker = "failed: "
            if "reading the stream" not in exc.message or marker not in exc.message:
                raise
            cause = exc.message.rsplit(marker, 1)[1]
            raise DataValidationError(
                f"The input could not be read: {cause}",
                hint="fix the value, or check that the value column holds numbers",
            ) from None
        facts = self.sql.sql(
            f"SELECT SUM(CASE WHEN person IS NULL THEN 1 ELSE 0 END) AS no_person"
            f"{', SUM(CASE WHEN v IS NULL THEN 1 ELSE 0 END) AS no_value' if spec.value else ''} "
            f"FROM {self.name('pc')}"
        ).to_pylist()[0]
        if facts["no_person"]:
            raise DataValidationError(
                f"Rows without a person id in column {spec.persons!r}",
                hint="every row must name its person: counts are of distinct persons",
            )
        if spec.value and facts.get("no_value"):
            self.notes.append(
                f"{facts['no_value']} person-cell(s) have no {spec.value} value and are left out"
            )
            self.sql.execute(f"DELETE FROM {self.name('pc')} WHERE v IS NULL")

    def _levels(self) -> tuple[tuple[str, ...], ...]:
        result = []
        positions = 1
        for k, dim in enumerate(self.spec.dims):
            observed = (
                self.sql.sql(f"SELECT DISTINCT d{k} AS level FROM {self.name('pc')}")
                .column("level")
                .to_pylist()
            )
            declared = [str(v) for v in self.spec.levels.get(dim, ())]
            extra = sorted(set(observed) - set(declared))
            if declared and extra:
                self.notes.append(
                    f"{dim} has values outside its declared levels: {', '.join(extra[:10])}"
                )
            levels = tuple(dict.fromkeys([*declared, *extra]))
            if len(levels) > MAX_LEVELS:
                raise UsageError(
                    f"{dim} has {len(levels)} distinct values: too many for a table dimension",
                    hint="band or group the values first",
                )
            if not levels:
                raise DataValidationError("The input has no rows to tabulate")
            positions *= len(levels) + 1
            result.append(levels)
        if positions > MAX_POSITIONS:
            raise UsageError(
                f"The table would have {positions} cells and margins: too large to check",
                hint="use fewer dimensions or coarser levels",
            )
        return tuple(result)

    def _encode(self, levels: tuple[tuple[str, ...], ...], shape: tuple[int, ...]) -> None:
        strides = [int(np.prod(shape[k + 1 :])) for k in range(len(shape))]
        joins = []
        codes = []
        for k, lv in enumerate(levels):
            table = pa.table({"level": pa.array(lv, pa.string()), "code": np.arange(len(lv))})
            self.sql.register(self.name(f"lv{k}"), table)
            joins.append(f"JOIN {self.name(f'lv{k}')} l{k} ON pc.d{k} = l{k}.level")
            codes.append(f"l{k}.code AS c{k}")
        cell = " + ".join(f"l{k}.code * {strides[k]}" for k in range(len(levels)))
        value = ", pc.v AS v" if self.spec.value else ""
        self.sql.execute(
            f"CREATE TEMP TABLE {self.name('pcc')} AS "
            f"SELECT pc.person AS person, {', '.join(codes)}, {cell} AS cell{value} "
            f"FROM {self.name('pc')} pc {' '.join(joins)}"
        )
        self.strides = strides

    def _additive(self) -> bool:
        row = self.sql.sql(
            f"SELECT COUNT(*) AS n, COUNT(DISTINCT person) AS p FROM {self.name('pcc')}"
        ).to_pylist()[0]
        return bool(row["n"] == row["p"])

    def _aggregate_sql(self, relation: str) -> str:
        if not self.spec.value:
            return f"SELECT cell, COUNT(DISTINCT person) AS persons FROM {relation} GROUP BY cell"
        tops = ", ".join(
            f"MAX(CASE WHEN rn = {i + 1} THEN ABS(v) END) AS top{i + 1}" for i in range(self.n_top)
        )
        median = ", MEDIAN(v) AS median" if self.spec.kind is TableKind.MEDIAN else ""
        return (
            f"WITH ranked AS (SELECT cell, v, ROW_NUMBER() OVER "
            f"(PARTITION BY cell ORDER BY ABS(v) DESC) AS rn FROM {relation}) "
            f"SELECT cell, COUNT(*) AS persons, SUM(v) AS total, SUM(ABS(v)) AS abs_total, "
            f"{tops}, MIN(v) AS minimum, MAX(v) AS maximum{median} FROM ranked GROUP BY cell"
        )

    def _margin_contributions(self, shape: tuple[int, ...]) -> str:
        """Per person and margin cell, the person's contribution (re-summed over cells)."""
        n = len(shape)
        selects = []
        for kept in itertools.chain.from_iterable(
            itertools.combinations(range(n), r) for r in range(n)
        ):
            cell = " + ".join(
                f"c{k} * {self.strides[k]}" if k in kept else str((shape[k] - 1) * self.strides[k])
                for k in range(n)
            )
            value = ", SUM(v) AS v" if self.spec.value else ""
            selects.append(
                f"SELECT person, {cell} AS cell{value} FROM {self.name('pcc')} "
                f"GROUP BY person, {cell}"
            )
        return " UNION ALL ".join(selects)

    def _cells(
        self, shape: tuple[int, ...], levels: tuple[tuple[str, ...], ...], additive: bool
    ) -> tuple[IntArray, Magnitudes | None]:
        interior = self.sql.sql(self._aggregate_sql(self.name("pcc")))
        sql_margins = not additive or self.spec.kind is TableKind.MEDIAN
        parts = [interior]
        if sql_margins:
            margin_relation = f"({self._margin_contributions(shape)}) AS m"
            parts.append(self.sql.sql(self._aggregate_sql(margin_relation)))
        data = pa.concat_tables(parts, promote_options="permissive")
        size = int(np.prod(shape))
        cells = np.asarray(data.column("cell"), dtype=np.int64)
        persons = np.zeros(size, dtype=np.int64)
        persons[cells] = np.asarray(data.column("persons"), dtype=np.int64)
        persons = persons.reshape(shape)
        if not sql_margins:
            fill_sums(persons)
        if not self.spec.value:
            return persons, None

        def dense(column: str, empty: float) -> FloatArray:
            out = np.full(size, empty)
            out[cells] = np.asarray(
                data.column(column).fill_null(empty).cast(pa.float64()), dtype=np.float64
            )
            return out.reshape(shape)

        total = dense("total", 0.0)
        abs_total = dense("abs_total", 0.0)
        tops = np.stack([dense(f"top{i + 1}", 0.0) for i in range(self.n_top)])
        minimum = dense("minimum", np.nan)
        maximum = dense("maximum", np.nan)
        median = (
            dense("median", np.nan)
            if self.spec.kind is TableKind.MEDIAN
            else np.full(shape, np.nan)
        )
        if not sql_margins:
            fill_sums(total)
            fill_sums(abs_total)
            fill_tops(tops)
            fill_extreme(minimum, largest=False)
            fill_extreme(maximum, largest=True)
        has_negative = bool(np.nanmin(minimum, initial=0.0) < 0)
        return persons, Magnitudes(total, abs_total, tops, median, minimum, maximum, has_negative)

    def _structural(
        self, levels: tuple[tuple[str, ...], ...], shape: tuple[int, ...], persons: IntArray
    ) -> BoolArray | None:
        if not self.spec.structural_zeros:
            return None
        mask = np.zeros(shape, dtype=bool)
        for cell in self.spec.structural_zeros:
            position = []
            for value, lv, dim in zip(cell, levels, self.spec.dims, strict=True):
                if str(value) not in lv:
                    raise UsageError(
                        f"Structural zero {tuple(cell)}: {value!r} is not a level of {dim}"
                    )
                position.append(lv.index(str(value)))
            index = tuple(position)
            if persons[index] > 0:
                self.notes.append(
                    f"cell {tuple(cell)} was declared a structural zero but is not empty; "
                    "it is checked as any other cell"
                )
                continue
            mask[index] = True
        return mask
