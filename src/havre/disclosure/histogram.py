"""Histograms: each released bin counts at least ``threshold`` distinct persons.

Edges are the analyst's choice and must not come from the data (a bin edge at the observed
minimum or maximum is one person's value). Bins below the threshold are merged with their
smaller neighbour (``histogram_mode = "merge"``) or suppressed (``"suppress"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike

from havre.core.errors import DataValidationError, UsageError
from havre.disclosure.cells import BoolArray, CellKey, FloatArray, IntArray


@dataclass(frozen=True)
class Histogram:
    output_kind: ClassVar[str] = "histogram"

    variable: str
    edges: FloatArray
    persons: IntArray
    suppressed: BoolArray | None = None

    def reported_indices(self) -> IntArray:
        return np.arange(len(self.persons), dtype=np.int64)

    def key(self, index: int) -> CellKey:
        last = index == len(self.persons) - 1
        return (f"[{self.edges[index]:g}, {self.edges[index + 1]:g}{']' if last else ')'}",)

    def is_margin(self, index: int) -> bool:
        return False

    def keys(self, indices: IntArray) -> list[CellKey]:
        return [self.key(int(i)) for i in indices]

    def margins_of(self, indices: IntArray) -> list[bool]:
        return [False] * len(indices)

    def released_values(self) -> FloatArray:
        values = self.persons.astype(np.float64)
        if self.suppressed is not None:
            values = np.where(self.suppressed, np.nan, values)
        return values

    def describe(self) -> dict[str, Any]:
        return {"variable": self.variable, "edges": [float(e) for e in self.edges]}


@dataclass(frozen=True)
class _Binned:
    bins: IntArray  # per distinct (bin, person) pair
    persons: IntArray


def _bin(values: ArrayLike, edges: FloatArray, persons: ArrayLike | None) -> _Binned:
    x = np.asarray(values, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise UsageError("Histogram edges must be at least two strictly increasing numbers")
    if not np.isfinite(edges).all():
        raise UsageError("Histogram edges must be finite numbers")
    missing = int(np.isnan(x).sum())
    if missing:
        raise DataValidationError(f"{missing} values are missing; drop them before binning")
    outside = int(((x < edges[0]) | (x > edges[-1])).sum())
    if outside:
        raise DataValidationError(
            f"{outside} values fall outside [{edges[0]:g}, {edges[-1]:g}]",
            hint="widen the first or last edge (choose edges without looking at the extremes)",
        )
    bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    if persons is None:
        ids = np.arange(len(x), dtype=np.int64)
    else:
        ids_in = persons.combine_chunks() if isinstance(persons, pa.ChunkedArray) else persons
        encoded = pc.dictionary_encode(pa.array(ids_in))
        if encoded.null_count:
            raise DataValidationError(f"{encoded.null_count} values have no person id")
        ids = np.asarray(encoded.indices, dtype=np.int64)
        if len(ids) != len(x):
            raise DataValidationError("Histogram input needs one person id per value")
    pairs = np.unique(np.stack([bins.astype(np.int64), ids]), axis=1)
    return _Binned(pairs[0], pairs[1])


def histogram(
    values: ArrayLike,
    edges: ArrayLike,
    persons: ArrayLike | None = None,
    variable: str = "value",
) -> Histogram:
    """Distinct persons per bin (one per value when ``persons`` is not given)."""
    edge_array = np.asarray(edges, dtype=np.float64)
    binned = _bin(values, edge_array, persons)
    counts = np.bincount(binned.bins, minlength=len(edge_array) - 1).astype(np.int64)
    return Histogram(variable, edge_array, counts)


def protect_histogram(
    values: ArrayLike,
    edges: ArrayLike,
    threshold: int,
    mode: str = "merge",
    persons: ArrayLike | None = None,
    variable: str = "value",
) -> Histogram:
    """The releasable histogram: small bins merged with a neighbour, or suppressed."""
    edge_array = np.asarray(edges, dtype=np.float64)
    binned = _bin(values, edge_array, persons)
    counts = np.bincount(binned.bins, minlength=len(edge_array) - 1).astype(np.int64)
    if mode == "suppress":
        withheld = counts < threshold
        if withheld.sum() == 1 and len(counts) > 1:
            # The number of persons is usually known: one withheld bin would be the total
            # minus the others, so withhold the smallest other bin too.
            others = np.where(withheld, np.iinfo(np.int64).max, counts)
            withheld[int(np.argmin(others))] = True
        return Histogram(variable, edge_array, counts, suppressed=withheld)
    if mode != "merge":
        raise UsageError(f"Unknown histogram mode {mode!r}; use merge or suppress")
    # Persons per bin (a person may have values in several bins: unions are recounted).
    order = np.argsort(binned.bins, kind="stable")
    splits = np.searchsorted(binned.bins[order], np.arange(1, len(counts)))
    members = list(np.split(binned.persons[order], splits))
    kept_edges = list(edge_array)
    while len(members) > 1:
        sizes = np.array([m.size for m in members])
        small = np.flatnonzero(sizes < threshold)
        if small.size == 0:
            break
        i = int(small[np.argmin(sizes[small])])
        if i == 0:
            j = 1
        elif i == len(members) - 1:
            j = i - 1
        else:
            j = i - 1 if sizes[i - 1] <= sizes[i + 1] else i + 1
        left, right = min(i, j), max(i, j)
        members[left] = np.union1d(members[left], members[right])
        del members[right]
        del kept_edges[right]  # the edge between the two bins disappears
    merged = np.array([m.size for m in members], dtype=np.int64)
    suppressed = merged < threshold  # only possible when a single bin is left
    return Histogram(
        variable, np.array(kept_edges), merged, suppressed if suppressed.any() else None
    )
