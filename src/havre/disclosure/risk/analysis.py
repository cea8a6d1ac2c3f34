"""Measure the re-identification risk of an extract at any generalization of its quasi-identifiers.

The extract is scanned once: ``GROUP BY`` every quasi-identifier and sensitive attribute into
a temporary table of distinct combinations with their counts. Every later measure rolls that
table up (``SUM(n) GROUP BY <generalized columns>``), so trying a generalization costs a scan
of the combinations, not of the records. Only aggregates reach Python: the histogram of class
sizes, l-diversity minima, entropies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np

from havre.core.errors import DataValidationError, EngineError, UsageError
from havre.core.ids import new_id
from havre.disclosure.risk.hierarchies import Hierarchy, hierarchy
from havre.disclosure.risk.measures import (
    prosecutor_risk,
    sampled_risks,
    unique_share,
    whole_population_risks,
)
from havre.disclosure.risk.model import (
    DEFAULT_THRESHOLD,
    ClassHistogram,
    ColumnLevel,
    Diversity,
    Population,
    PopulationUniqueness,
    RiskAssessment,
    RiskDeclaration,
    RiskSummary,
)
from havre.disclosure.risk.relation import Relation, quote
from havre.disclosure.risk.uniqueness import SampleShape, dankar

Levels = tuple[int, ...]


class RiskAnalysis:
    """One extract, prepared for measuring; a context manager that drops its temporary tables."""

    def __init__(
        self,
        relation: Relation,
        declaration: RiskDeclaration,
        population: Population | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        if not 0 < threshold <= 1:
            raise UsageError(
                f"Risk threshold {threshold} is not in (0, 1]", hint="e.g. 0.2 for classes of 5"
            )
        self.relation = relation
        self.engine = relation.engine
        self.declaration = declaration
        self.population = population or Population.whole()
        self.threshold = threshold
        self.hierarchies: tuple[Hierarchy, ...] = tuple(
            hierarchy(qi.kind) for qi in declaration.quasi_identifiers
        )
        relation.require(declaration.columns)
        self._tables: list[str] = []
        self._entropy: dict[tuple[int, int], float] = {}
        self._histograms: dict[Levels, ClassHistogram] = {}
        self._lookups_ready = False
        try:
            self.base = self._group(relation, declaration.columns, "risk_classes")
            self.records = self._check_kinds()
            if self.records == 0:
                raise DataValidationError(
                    "The extract has no records: there is no risk to measure",
                    hint="check the file or the permit's filters",
                )
            self.population_base: str | None = None
            if self.population.relation is not None:
                population_relation = Relation(self.engine, self.population.relation)
                population_relation.require(self.qi_columns, what="population table")
                self.population_base = self._group(
                    population_relation, self.qi_columns, "risk_population"
                )
            self.population_size = self._population_size()
        except BaseException:
            self.close()
            raise

    # -- set-up -------------------------------------------------------------------------------

    @property
    def qi_columns(self) -> tuple[str, ...]:
        return tuple(qi.column for qi in self.declaration.quasi_identifiers)

    def _group(self, relation: Relation, columns: Sequence[str], prefix: str) -> str:
        """The one scan of a relation: its distinct combinations of columns, with counts."""
        name = new_id(prefix)
        qi_count = len(self.qi_columns)
        # Short aliases (q0.., s0..) keep every later query free of user-chosen names.
        aliases = [
            f"{quote(column)} AS q{i}" if i < qi_count else f"{quote(column)} AS s{i - qi_count}"
            for i, column in enumerate(columns)
        ]
        group = ", ".join(quote(column) for column in columns)
        self.engine.execute(
            f"CREATE TEMP TABLE {name} AS SELECT {', '.join(aliases)}, COUNT(*) AS n "
            f"FROM {relation.sql} GROUP BY {group}"
        )
        self._tables.append(name)
        return name

    def _ensure_lookups(self) -> None:
        """Add the lookup levels to the grouped tables, the first time one is asked for."""
        if self._lookups_ready:
            return
        self.base = self._with_lookups(self.base)
        if self.population_base is not None:
            self.population_base = self._with_lookups(self.population_base)
        self._lookups_ready = True

    def _with_lookups(self, grouped: str) -> str:
        lookups = [
            (i, index, level)
            for i, tree in enumerate(self.hierarchies)
            for index, level in enumerate(tree.levels)
            if level.lookup
        ]
        name = new_id("risk_lookup")
        columns_sql = ", ".join(
            f"l{i}_{index}.x AS {_lookup_column(i, index)}" for i, index, _ in lookups
        )
        joins = " ".join(
            f"LEFT JOIN (SELECT v, {level.sql('v')} AS x FROM "
            f"(SELECT DISTINCT q{i} AS v FROM {grouped}) u) l{i}_{index} "
            f"ON g.q{i} IS NOT DISTINCT FROM l{i}_{index}.v"
            for i, index, level in lookups
        )
        self.engine.execute(
            f"CREATE TEMP TABLE {name} AS SELECT g.*, {columns_sql} FROM {grouped} g {joins}"
        )
        self._tables.append(name)
        self._tables.remove(grouped)
        self.engine.execute(f"DROP TABLE {grouped}")
        return name

    def _check_kinds(self) -> int:
        """Count the records, and refuse values that are not of their column's declared kind."""
        checks: list[tuple[int, str]] = []
        parts: list[str] = ["COALESCE(SUM(n), 0)"]
        for index, tree in enumerate(self.hierarchies):
            if tree.invalid_when is None:
                continue
            column = f"q{index}"
            bad = f"{column} IS NOT NULL AND ({tree.invalid_when.replace('{c}', column)})"
            parts.append(f"SUM(CASE WHEN {bad} THEN n ELSE 0 END)")
            # One short example helps fix the declaration; more would copy data into errors.
            parts.append(f"MIN(CASE WHEN {bad} THEN substr(CAST({column} AS VARCHAR), 1, 20) END)")
            checks.append((index, tree.expected))
        row = self._row(f"SELECT {', '.join(parts)} FROM {self.base}")
        for position, (index, expected) in enumerate(checks):
            count, example = row[1 + 2 * position], row[2 + 2 * position]
            if count:
                qi = self.declaration.quasi_identifiers[index]
                raise DataValidationError(
                    f"Column {qi.column!r} is declared as {qi.kind.value} but {int(count):,} "
                    f"record(s) hold something else, e.g. {example!r}; expected {expected}",
                    hint="fix the declared kind (--kinds column=kind, or other) or the data",
                    column=qi.column,
                    kind=qi.kind.value,
                )
        return int(row[0])

    def _population_size(self) -> int:
        if self.population_base is not None:
            size = int(self._scalar(f"SELECT COALESCE(SUM(n), 0) FROM {self.population_base}"))
            if size < self.records:
                raise DataValidationError(
                    f"The population table has {size:,} records, fewer than the extract "
                    f"({self.records:,})",
                    hint="the population must contain every record of the extract",
                )
            return size
        return round(self.records / self.population.fraction_for(self.records))

    # -- SQL helpers --------------------------------------------------------------------------

    def _row(self, query: str) -> tuple[Any, ...]:
        table = self.engine.sql(query)
        if table.num_rows == 0:
            return ()
        return tuple(table.column(i)[0].as_py() for i in range(table.num_columns))

    def _scalar(self, query: str) -> Any:
        row = self._row(query)
        return row[0] if row else None

    def level_sql(self, column: int, level: int) -> str:
        """The SQL of one column at one level, over the analysis's grouped tables."""
        if self.hierarchies[column].levels[level].lookup:
            self._ensure_lookups()
            return _lookup_column(column, level)
        return self.hierarchies[column].levels[level].sql(f"q{column}")

    def _expressions(self, levels: Levels) -> list[str]:
        if len(levels) != len(self.hierarchies):
            raise UsageError(
                f"{len(levels)} generalization levels given for {len(self.hierarchies)} columns"
            )
        out = []
        for index, (tree, level) in enumerate(zip(self.hierarchies, levels, strict=True)):
            if not 0 <= level <= tree.top:
                raise UsageError(
                    f"Column {self.qi_columns[index]!r} ({tree.kind.value}) has no level {level}"
                )
            out.append(self.level_sql(index, level))
        return out

    # -- measures -----------------------------------------------------------------------------

    def histogram(self, levels: Levels | None = None) -> ClassHistogram:
        """Class sizes at a generalization (all columns as they are by default)."""
        levels = levels if levels is not None else self.finest
        cached = self._histograms.get(levels)
        if cached is not None:
            return cached
        group = ", ".join(self._expressions(levels))
        table = self.engine.sql(
            f"SELECT size, COUNT(*) AS classes FROM "
            f"(SELECT SUM(n) AS size FROM {self.base} GROUP BY {group}) c "
            f"GROUP BY size ORDER BY size"
        )
        result = ClassHistogram(
            tuple(int(v) for v in table.column("size").to_pylist()),
            tuple(int(v) for v in table.column("classes").to_pylist()),
        )
        self._histograms[levels] = result
        return result

    @property
    def finest(self) -> Levels:
        return (0,) * len(self.hierarchies)

    def diversity(self, levels: Levels, min_class_size: int = 1) -> tuple[Diversity, ...]:
        expressions = self._expressions(levels)
        aliases = ", ".join(f"{e} AS g{i}" for i, e in enumerate(expressions))
        group = ", ".join(expressions)
        outer = ", ".join(f"g{i}" for i in range(len(expressions)))
        results = []
        for index, attribute in enumerate(self.declaration.sensitive):
            row = self._row(
                "SELECT MIN(d), MIN(h), SUM(CASE WHEN d = 1 THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN d = 1 THEN m ELSE 0 END) FROM ("
                "SELECT COUNT(*) AS d, SUM(m) AS m, "
                "LN(SUM(m)) - SUM(m * LN(m)) / SUM(m) AS h FROM ("
                f"SELECT {aliases}, s{index} AS v, SUM(n) AS m FROM {self.base} "
                f"GROUP BY {group}, s{index}) x "
                f"GROUP BY {outer} HAVING SUM(m) >= {int(min_class_size)}) y"
            )
            distinct, entropy, classes, records = row
            results.append(
                Diversity(
                    attribute=attribute,
                    distinct_l=int(distinct or 0),
                    entropy_l=float(np.exp(max(float(entropy or 0.0), 0.0))),
                    homogeneous_classes=int(classes or 0),
                    homogeneous_records=int(records or 0),
                )
            )
        return tuple(results)

    def entropy(self, column: int, level: int) -> float:
        """Shannon entropy (nats) of one quasi-identifier at one level, over the extract."""
        key = (column, level)
        if key not in self._entropy:
            expression = self.level_sql(column, level)
            value = self._scalar(
                "SELECT LN(SUM(m)) - SUM(m * LN(m)) / SUM(m) FROM "
                f"(SELECT SUM(n) AS m FROM {self.base} GROUP BY {expression}) x"
            )
            self._entropy[key] = max(float(value or 0.0), 0.0)
        return self._entropy[key]

    def distinct_values(self, column: int, level: int) -> int:
        expression = self.level_sql(column, level)
        return int(
            self._scalar(
                f"SELECT COUNT(*) FROM (SELECT 1 AS x FROM {self.base} GROUP BY {expression}) d"
            )
        )

    def assess(self, levels: Levels | None = None, min_class_size: int = 1) -> RiskAssessment:
        """Every measure at a generalization, after suppressing classes below ``min_class_size``."""
        levels = levels if levels is not None else self.finest
        full = self.histogram(levels)
        histogram = _keep_classes(full, min_class_size)
        if histogram.records == 0:
            raise DataValidationError(
                f"Suppressing classes smaller than {min_class_size} would drop every record"
            )
        prosecutor = prosecutor_risk(histogram, self.threshold)
        journalist, marketer, basis, uniqueness = self._population_measures(
            levels, histogram, min_class_size
        )
        return RiskAssessment(
            records=histogram.records,
            columns=tuple(
                ColumnLevel(qi.column, qi.kind, tree.levels[level].name)
                for qi, tree, level in zip(
                    self.declaration.quasi_identifiers, self.hierarchies, levels, strict=True
                )
            ),
            histogram=histogram,
            unique_share=unique_share(histogram),
            prosecutor=prosecutor,
            journalist=journalist,
            journalist_basis=basis,
            marketer=marketer,
            population_uniqueness=uniqueness,
            diversity=self.diversity(levels, min_class_size),
            threshold=self.threshold,
            suppressed_records=full.records - histogram.records,
        )

    def _population_measures(
        self, levels: Levels, histogram: ClassHistogram, min_class_size: int
    ) -> tuple[RiskSummary, float, str, PopulationUniqueness]:
        if self.population_base is not None:
            return self._population_table_measures(levels, min_class_size)
        if self.population_size <= self.records:
            journalist, marketer = whole_population_risks(histogram, self.threshold)
            uniques = float(histogram.classes_of_size(1))
            uniqueness = PopulationUniqueness(
                share=uniques / histogram.records,
                uniques=uniques,
                population_size=float(histogram.records),
                sampling_fraction=1.0,
                model="exact",
            )
            return journalist, marketer, "whole_population", uniqueness
        fraction = histogram.records / self.population_size
        journalist, marketer = sampled_risks(histogram, fraction, self.threshold)
        uniques, model, estimates = dankar(SampleShape.of(histogram, self.population_size))
        uniqueness = PopulationUniqueness(
            share=uniques / self.population_size,
            uniques=uniques,
            population_size=float(self.population_size),
            sampling_fraction=fraction,
            model=model,
            estimates=estimates,
        )
        return journalist, marketer, "sampling_fraction", uniqueness

    def _population_table_measures(
        self, levels: Levels, min_class_size: int
    ) -> tuple[RiskSummary, float, str, PopulationUniqueness]:
        assert self.population_base is not None
        expressions = self._expressions(levels)
        width = len(expressions)
        sample = ", ".join(f"{e} AS g{i}" for i, e in enumerate(expressions))
        group = ", ".join(expressions)
        join = " AND ".join(f"s.g{i} IS NOT DISTINCT FROM p.g{i}" for i in range(width))
        row = self._row(
            f"WITH s AS (SELECT {sample}, SUM(n) AS f FROM {self.base} GROUP BY {group}), "
            f"p AS (SELECT {sample}, SUM(n) AS pf FROM {self.population_base} GROUP BY {group}) "
            "SELECT COUNT(*), SUM(s.f), COUNT(p.pf), "
            "SUM(CASE WHEN p.pf < s.f THEN 1 ELSE 0 END), MIN(p.pf), "
            f"SUM(CASE WHEN 1.0 / p.pf > {self.threshold!r} THEN s.f ELSE 0 END), "
            "SUM(p.pf), SUM(CAST(s.f AS DOUBLE) / p.pf) "
            f"FROM s LEFT JOIN p ON {join} WHERE s.f >= {int(min_class_size)}"
        )
        classes, records, matched, smaller, smallest, at_risk, covered, ratio_sum = row
        if matched != classes or smaller:
            raise DataValidationError(
                "The extract holds records the population table does not "
                f"({int(classes) - int(matched)} class(es) missing, {int(smaller or 0)} smaller "
                "in the population)",
                hint="the population table must contain every record of the extract",
            )
        marketer = float(ratio_sum) / float(records)
        journalist = RiskSummary(
            highest=1.0 / float(smallest),
            average=max(float(classes) / float(covered), marketer),
            records_at_risk=float(at_risk) / float(records),
        )
        population_uniques = int(
            self._scalar(
                f"SELECT COUNT(*) FROM (SELECT SUM(n) AS pf FROM {self.population_base} "
                f"GROUP BY {group}) p WHERE pf = 1"
            )
        )
        uniqueness = PopulationUniqueness(
            share=population_uniques / self.population_size,
            uniques=float(population_uniques),
            population_size=float(self.population_size),
            sampling_fraction=float(records) / self.population_size,
            model="exact",
        )
        return journalist, marketer, "population_table", uniqueness

    # -- life cycle ---------------------------------------------------------------------------

    def close(self) -> None:
        while self._tables:
            name = self._tables.pop()
            # The engine may already be closed; its temporary tables died with it.
            with contextlib.suppress(EngineError):
                self.engine.execute(f"DROP TABLE IF EXISTS {name}")

    def __enter__(self) -> RiskAnalysis:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _lookup_column(column: int, level: int) -> str:
    return f"q{column}_l{level}"


def _keep_classes(histogram: ClassHistogram, min_class_size: int) -> ClassHistogram:
    if min_class_size <= 1:
        return histogram
    pairs = [
        (s, c)
        for s, c in zip(histogram.sizes, histogram.counts, strict=True)
        if s >= min_class_size
    ]
    return ClassHistogram(tuple(s for s, _ in pairs), tuple(c for _, c in pairs))


def assess(
    relation: Relation,
    declaration: RiskDeclaration,
    population: Population | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> RiskAssessment:
    """The risk of an extract as it is: k, uniqueness, the three attackers, l-diversity."""
    with RiskAnalysis(relation, declaration, population, threshold) as analysis:
        return analysis.assess()
