"""What a project has released: the airlock stores one ``ReleaseRecord`` per released table.

It keeps the dimensions, the population's definition (a hash and a description of the
filters, never a list of persons), and the released cells with their person counts. Counts of
released cells are what left the hub already; the person counts of magnitude cells stay inside
the hub and serve only to detect differencing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from havre.core.hashing import sha256_value
from havre.disclosure.cells import CellKey, CellTable, TableKind


class PopulationRef(BaseModel):
    """The population an output describes.

    ``base`` names what the filters apply to (a workspace extract at a data version, a file);
    two populations are compared for differencing only when they share a base.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: str
    definition_hash: str
    size: int = Field(ge=0)
    description: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_definition(cls, base: str, definition: Mapping[str, Any], size: int) -> PopulationRef:
        return cls(
            base=base,
            definition_hash=sha256_value({"base": base, "definition": dict(definition)}),
            size=size,
            description=dict(definition),
        )


class PopulationOverlap(BaseModel):
    """Exact membership difference between the current and an earlier population, when the
    caller can compute it (e.g. by evaluating both definitions in the workspace)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    only_current: int = Field(ge=0)
    only_earlier: int = Field(ge=0)

    @property
    def nested(self) -> bool:
        return self.only_current == 0 or self.only_earlier == 0

    @property
    def difference(self) -> int:
        return self.only_current + self.only_earlier


class ReleasedCell(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cell: tuple[str | None, ...]
    value: float
    persons: int = Field(ge=0)


class ReleaseRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    release_id: str
    project_id: str | None = None
    kind: TableKind
    dims: tuple[str, ...]
    population: PopulationRef
    cells: tuple[ReleasedCell, ...]
    rounding_base: int | None = None
    released_at: dt.datetime | None = None

    def cell_map(self) -> dict[CellKey, ReleasedCell]:
        return {c.cell: c for c in self.cells}


def release_record(
    table: CellTable,
    released: np.ndarray[Any, np.dtype[np.bool_]],
    population: PopulationRef,
    release_id: str,
    *,
    project_id: str | None = None,
    values: np.ndarray[Any, np.dtype[np.float64]] | None = None,
    rounding_base: int | None = None,
    released_at: dt.datetime | None = None,
) -> ReleaseRecord:
    """The record of a released table: only the cells that left (``released`` mask over the
    extended shape), with the values as released (``values``, e.g. rounded)."""
    shown = table.values() if values is None else values
    indices = np.flatnonzero(released & table.reported_mask())
    flat_values = shown.ravel()
    flat_persons = table.persons.ravel()
    cells = tuple(
        ReleasedCell(
            cell=table.key(int(i)), value=float(flat_values[i]), persons=int(flat_persons[i])
        )
        for i in indices
        if not np.isnan(flat_values[i])
    )
    return ReleaseRecord(
        release_id=release_id,
        project_id=project_id,
        kind=table.kind,
        dims=table.dims,
        population=population,
        cells=cells,
        rounding_base=rounding_base,
        released_at=released_at,
    )
