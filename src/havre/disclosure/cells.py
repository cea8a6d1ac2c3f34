"""The cell table: what a frequency or magnitude table holds before anything is released.

Arrays have the *extended* shape: one more position per axis than the dimension has levels,
the last one holding the total along that axis. Position ``(i, L2)`` of a 2-D table is the
total of row ``i``; ``(L1, L2)`` is the grand total. Margins are always computed (they are
needed to reason about what the released cells imply); ``margins`` says whether they are
released.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

MISSING_LEVEL = "(missing)"

CellKey = tuple[str | None, ...]
"""A cell named by its level on each dimension; ``None`` marks a total along that dimension."""


class TableKind(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MEAN = "mean"
    MEDIAN = "median"
    MIN = "min"
    MAX = "max"

    @property
    def is_magnitude(self) -> bool:
        return self is not TableKind.COUNT

    @property
    def is_linear(self) -> bool:
        """Released values add up along the margins (or do once counts are known)."""
        return self in (TableKind.COUNT, TableKind.SUM, TableKind.MEAN)


FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Magnitudes:
    """Per-cell facts about the person contributions to a magnitude table."""

    total: FloatArray
    abs_total: FloatArray
    tops: FloatArray  # (n, *shape): the n largest absolute contributions, 0 when missing
    median: FloatArray  # NaN when empty
    minimum: FloatArray
    maximum: FloatArray
    has_negative: bool

    @property
    def top1(self) -> FloatArray:
        top: FloatArray = self.tops[0]
        return top

    @property
    def top2(self) -> FloatArray:
        top: FloatArray = self.tops[1]
        return top


@dataclass(frozen=True)
class CellTable:
    output_kind: ClassVar[str] = "table"

    dims: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    kind: TableKind
    persons: IntArray
    magnitudes: Magnitudes | None = None
    margins: bool = True
    additive: bool = True  # each person counted in one interior cell: margins are sums
    structural_zeros: BoolArray | None = None
    value_name: str | None = None
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.persons.shape != self.shape:
            raise ValueError(f"persons has shape {self.persons.shape}, expected {self.shape}")
        if self.kind.is_magnitude and self.magnitudes is None:
            raise ValueError(f"a {self.kind} table needs magnitudes")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(levels) + 1 for levels in self.levels)

    @property
    def ndim(self) -> int:
        return len(self.dims)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def interior_mask(self) -> BoolArray:
        mask = np.ones(self.shape, dtype=bool)
        for axis, levels in enumerate(self.levels):
            index: list[slice | int] = [slice(None)] * self.ndim
            index[axis] = len(levels)
            mask[tuple(index)] = False
        return mask

    def reported_mask(self) -> BoolArray:
        """Cells that appear in the output: the interior, plus the margins when released."""
        if self.margins:
            return np.ones(self.shape, dtype=bool)
        return self.interior_mask()

    def structural_mask(self) -> BoolArray:
        if self.structural_zeros is None:
            return np.zeros(self.shape, dtype=bool)
        return self.structural_zeros

    def values(self) -> FloatArray:
        """The value each cell would be released with (NaN where undefined, e.g. empty mean)."""
        if self.kind is TableKind.COUNT:
            return self.persons.astype(np.float64)
        m = self.magnitudes
        assert m is not None
        if self.kind is TableKind.SUM:
            return m.total
        if self.kind is TableKind.MEAN:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(self.persons > 0, m.total / np.maximum(self.persons, 1), np.nan)
        if self.kind is TableKind.MEDIAN:
            return m.median
        if self.kind is TableKind.MIN:
            return m.minimum
        return m.maximum

    def key(self, flat_index: int) -> CellKey:
        position = np.unravel_index(flat_index, self.shape)
        return tuple(
            None if int(i) == len(levels) else levels[int(i)]
            for i, levels in zip(position, self.levels, strict=True)
        )

    def index_of(self, key: Sequence[str | None]) -> int:
        """The flat index of a cell named by its levels (``None`` for a total)."""
        if len(key) != self.ndim:
            raise KeyError(f"cell {tuple(key)} has {len(key)} values for {self.ndim} dimensions")
        position = []
        for value, levels, dim in zip(key, self.levels, self.dims, strict=True):
            if value is None:
                position.append(len(levels))
            elif value in levels:
                position.append(levels.index(value))
            else:
                raise KeyError(f"{value!r} is not a level of {dim} ({', '.join(levels)})")
        return int(np.ravel_multi_index(tuple(position), self.shape))

    def reported_indices(self) -> IntArray:
        return np.flatnonzero(self.reported_mask()).astype(np.int64)

    def iter_keys(self, indices: Sequence[int] | IntArray) -> Iterator[tuple[int, CellKey]]:
        for index in indices:
            yield int(index), self.key(int(index))

    def is_margin(self, flat_index: int) -> bool:
        return None in self.key(flat_index)

    def keys(self, indices: IntArray) -> list[CellKey]:
        """Keys of many cells at once (vectorized over the positions)."""
        positions = np.unravel_index(np.asarray(indices, dtype=np.int64), self.shape)
        columns = []
        for position, levels in zip(positions, self.levels, strict=True):
            names = np.array([*levels, None], dtype=object)
            columns.append(names[position].tolist())
        return list(zip(*columns, strict=True))

    def margins_of(self, indices: IntArray) -> list[bool]:
        flat = self.interior_mask().ravel()
        margins: list[bool] = (~flat[np.asarray(indices, dtype=np.int64)]).tolist()
        return margins

    def released_values(self) -> FloatArray:
        return self.values().ravel()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "dims": list(self.dims),
            "levels": {d: list(levels) for d, levels in zip(self.dims, self.levels, strict=True)},
            "value_column": self.value_name,
            "margins": self.margins,
            "additive": self.additive,
        }
