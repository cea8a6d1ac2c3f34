"""Differentially private counts with OpenDP, and the privacy budget they spend.

The unit of privacy is the person. Each person's contributions are bounded first (at most
``max_contributions`` cells per person, chosen independently of anyone else), so adding or
removing one person changes at most that many rows of the input to OpenDP. OpenDP then counts
by category and adds discrete Laplace noise (``make_count_by_categories >> make_laplace``);
no noise is drawn here. The category set must be public: every dimension's levels are
declared, never read from the data. Negative noisy counts are set to zero and margins are sums
of the noisy cells (post-processing, which costs no budget).

The budget is a typed, serializable ledger; the airlock persists one per project.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from havre.core.errors import DisclosureError, UsageError
from havre.core.ids import new_id
from havre.disclosure.aggregate import LocalDuckDB, quote
from havre.disclosure.cells import IntArray
from havre.disclosure.margins import fill_sums
from havre.lake.engine import Engine

MECHANISM = "OpenDP make_count_by_categories >> make_laplace (discrete Laplace)"


class BudgetEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    release_id: str
    epsilon: float = Field(gt=0)
    description: str = ""
    at: dt.datetime | None = None


class PrivacyBudget(BaseModel):
    """A project's privacy-loss ledger under basic composition (epsilons add up)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_id: str
    total_epsilon: float = Field(gt=0)
    entries: tuple[BudgetEntry, ...] = ()

    @property
    def spent(self) -> float:
        return float(sum(e.epsilon for e in self.entries))

    @property
    def remaining(self) -> float:
        return max(self.total_epsilon - self.spent, 0.0)

    def charge(
        self,
        epsilon: float,
        release_id: str,
        description: str = "",
        at: dt.datetime | None = None,
    ) -> PrivacyBudget:
        """The ledger after spending ``epsilon``; refused when it would exceed the total."""
        if epsilon <= 0:
            raise UsageError(f"Epsilon must be positive; got {epsilon}")
        if any(e.release_id == release_id for e in self.entries):
            raise UsageError(f"Release {release_id} is already charged to the budget")
        if epsilon > self.remaining + 1e-12:
            raise DisclosureError(
                f"Project {self.project_id} has {self.remaining:.4g} of its privacy budget "
                f"left ({self.total_epsilon:g} in all); this release needs {epsilon:.4g}",
                hint="lower epsilon, or ask the data steward for a larger budget",
            )
        entry = BudgetEntry(release_id=release_id, epsilon=epsilon, description=description, at=at)
        return self.model_copy(update={"entries": (*self.entries, entry)})


@dataclass(frozen=True)
class NoisyCounts:
    dims: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    counts: IntArray  # extended shape: margins are sums of the noisy cells
    epsilon: float
    scale: float
    max_contributions: int
    release_id: str
    mechanism: str = MECHANISM

    def describe(self) -> dict[str, Any]:
        return {
            "dims": list(self.dims),
            "levels": {d: list(lv) for d, lv in zip(self.dims, self.levels, strict=True)},
            "epsilon": self.epsilon,
            "scale": self.scale,
            "max_contributions": self.max_contributions,
            "mechanism": self.mechanism,
            "release_id": self.release_id,
        }


def dp_counts(
    source: pa.Table | pa.RecordBatchReader,
    persons: str,
    dims: Sequence[str],
    levels: Mapping[str, Sequence[str]],
    epsilon: float,
    *,
    budget: PrivacyBudget | None = None,
    max_contributions: int = 1,
    release_id: str | None = None,
    engine: Engine | None = None,
) -> tuple[NoisyCounts, PrivacyBudget | None]:
    """Noisy person counts of the cross of ``dims``; charges ``budget`` when given."""
    import opendp.prelude as dp

    dims = tuple(dims)
    undeclared = [d for d in dims if not levels.get(d)]
    if undeclared:
        raise UsageError(
            f"Declare the levels of {', '.join(undeclared)}: with differential privacy the "
            "categories must be public, not read from the data"
        )
    if epsilon <= 0 or max_contributions < 1:
        raise UsageError("Epsilon must be positive and max_contributions at least 1")
    release_id = release_id or new_id("dp")
    if budget is not None:
        budget = budget.charge(epsilon, release_id, f"noisy counts by {', '.join(dims)}")
    level_sets = tuple(tuple(str(v) for v in levels[d]) for d in dims)
    codes = _bounded_cells(source, persons, dims, level_sets, max_contributions, engine)

    dp.enable_features("contrib")
    shape = tuple(len(lv) for lv in level_sets)
    categories = list(range(int(np.prod(shape))))
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.symmetric_distance()

    def make(scale: float) -> Any:
        return (
            space
            >> dp.t.then_count_by_categories(categories=categories, null_category=False)
            >> dp.m.then_laplace(scale=scale)
        )

    scale = max_contributions / epsilon
    measurement = make(scale)
    while measurement.map(max_contributions) > epsilon:  # float rounding inside OpenDP
        scale *= 1 + 1e-9
        measurement = make(scale)
    noisy = np.maximum(np.asarray(measurement(codes.tolist()), dtype=np.int64), 0)
    extended = np.zeros(tuple(n + 1 for n in shape), dtype=np.int64)
    extended[tuple(slice(0, n) for n in shape)] = noisy.reshape(shape)
    fill_sums(extended)
    result = NoisyCounts(dims, level_sets, extended, epsilon, scale, max_contributions, release_id)
    return result, budget


def _bounded_cells(
    source: pa.Table | pa.RecordBatchReader,
    persons: str,
    dims: tuple[str, ...],
    levels: tuple[tuple[str, ...], ...],
    max_contributions: int,
    engine: Engine | None,
) -> IntArray:
    """One category code per kept (person, cell): at most ``max_contributions`` per person."""
    own = engine is None
    sql: Any = LocalDuckDB() if engine is None else engine
    tag = new_id("dp")
    try:
        sql.register(f"src_{tag}", source)
        joins, code = [], []
        stride = 1
        for k in reversed(range(len(dims))):
            table = pa.table({"level": pa.array(levels[k]), "code": np.arange(len(levels[k]))})
            sql.register(f"lv{k}_{tag}", table)
            joins.append(
                f"JOIN lv{k}_{tag} l{k} ON CAST(s.{quote(dims[k])} AS VARCHAR) = l{k}.level"
            )
            code.append(f"l{k}.code * {stride}")
            stride *= len(levels[k])
        # Which cells a person keeps depends only on that person's own rows (a hash of
        # person and cell), so bounding does not couple persons.
        query = (
            f"WITH pairs AS (SELECT DISTINCT CAST(s.{quote(persons)} AS VARCHAR) AS person, "
            f"{' + '.join(code)} AS cell FROM src_{tag} s {' '.join(joins)} "
            f"WHERE s.{quote(persons)} IS NOT NULL), "
            f"ranked AS (SELECT cell, ROW_NUMBER() OVER (PARTITION BY person "
            f"ORDER BY HASH(person, cell)) AS rn FROM pairs) "
            f"SELECT cell FROM ranked WHERE rn <= {int(max_contributions)}"
        )
        result = sql.sql(query)
        return np.asarray(result.column("cell"), dtype=np.int64)
    finally:
        if own:
            sql.close()
