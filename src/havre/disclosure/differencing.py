"""Differencing across releases: what a new output reveals once combined with earlier ones.

Two checks, both pure functions of release records:

* populations of the same base that differ by fewer than ``threshold`` persons (e.g. a cohort
  and the same cohort minus one person): subtracting the two outputs describes that small
  group, so the whole new output fails;
* over nested populations, a cell of the new table minus the same cell of an earlier table
  (same dimensions, or an earlier table whose dimensions are a subset, i.e. a margin of the
  new one) describes fewer than ``threshold`` persons.

Without an exact overlap (``PopulationOverlap``), populations of one base are assumed nested
and compared by size. Earlier releases of the *same* population are not differences: they are
known margins, which secondary suppression takes into account (``known_from_releases``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from havre.disclosure.cells import CellKey, CellTable, TableKind
from havre.disclosure.protection.suppress import Knowledge, prior_knowledge
from havre.disclosure.releases import PopulationOverlap, PopulationRef, ReleaseRecord


@dataclass(frozen=True)
class DifferencingFinding:
    cell: CellKey | None  # None: the whole output
    earlier_release: str
    reason: str


def differencing_findings(
    current: ReleaseRecord,
    earlier: Sequence[ReleaseRecord],
    threshold: int,
    overlaps: Mapping[str, PopulationOverlap] | None = None,
) -> list[DifferencingFinding]:
    """What ``current`` would reveal in combination with each ``earlier`` release."""
    overlaps = overlaps or {}
    findings: list[DifferencingFinding] = []
    for before in earlier:
        ours, theirs = current.population, before.population
        if ours.base != theirs.base or ours.definition_hash == theirs.definition_hash:
            continue
        overlap = overlaps.get(before.release_id)
        if overlap is not None:
            sides = (overlap.only_current, overlap.only_earlier)
            small = any(0 < side < threshold for side in sides)
            nested = overlap.nested
        else:
            gap = abs(ours.size - theirs.size)
            small = 0 < gap < threshold
            nested = True
        if small:
            findings.append(
                DifferencingFinding(
                    None,
                    before.release_id,
                    f"the population differs from release {before.release_id} by fewer than "
                    f"{threshold} persons",
                )
            )
            continue
        if nested and set(before.dims) <= set(current.dims):
            findings.extend(_cell_differences(current, before, threshold))
    return findings


def _cell_differences(
    current: ReleaseRecord, before: ReleaseRecord, threshold: int
) -> list[DifferencingFinding]:
    ours = current.cell_map()
    found = []
    for cell in before.cells:
        key = _as_current_key(cell.cell, before.dims, current.dims)
        mine = ours.get(key)
        if mine is None:
            continue
        gap = abs(mine.persons - cell.persons)
        if 0 < gap < threshold:
            found.append(
                DifferencingFinding(
                    key,
                    before.release_id,
                    f"minus the same cell of release {before.release_id} (nested population) "
                    f"it describes fewer than {threshold} persons",
                )
            )
    return found


def _as_current_key(
    key: Sequence[str | None], dims: Sequence[str], current_dims: Sequence[str]
) -> CellKey:
    by_dim = dict(zip(dims, key, strict=True))
    return tuple(by_dim.get(d) for d in current_dims)


def candidate_record(table: CellTable, population: PopulationRef) -> ReleaseRecord:
    """Every position of ``table`` (margins too, released or not) as a record to compare."""
    from havre.disclosure.releases import release_record

    everything = np.ones(table.shape, dtype=bool)
    full = CellTable(
        dims=table.dims,
        levels=table.levels,
        kind=TableKind.COUNT,
        persons=table.persons,
        margins=True,
        additive=table.additive,
    )
    return release_record(full, everything, population, release_id="(current)")


def known_from_releases(
    table: CellTable, population: PopulationRef | None, releases: Sequence[ReleaseRecord]
) -> tuple[Knowledge, list[str]]:
    """What earlier releases of the same population already told an intruder about the
    positions of ``table`` (an earlier table on a subset of the dimensions is a margin)."""
    prior = prior_knowledge(table)
    notes: list[str] = []
    if population is None:
        return prior, notes
    count_lower, count_upper = prior.count_lower.copy(), prior.count_upper.copy()
    amount_lower = None if prior.amount_lower is None else prior.amount_lower.copy()
    amount_upper = None if prior.amount_upper is None else prior.amount_upper.copy()
    for before in releases:
        if before.population.definition_hash != population.definition_hash:
            continue
        if not set(before.dims) <= set(table.dims):
            notes.append(
                f"release {before.release_id} of the same population has other dimensions "
                f"({', '.join(before.dims)}); it is not combined with this table"
            )
            continue
        for cell in before.cells:
            try:
                index = table.index_of(_as_current_key(cell.cell, before.dims, table.dims))
            except KeyError:
                continue
            if before.kind is TableKind.COUNT:
                slack = (before.rounding_base - 1) if before.rounding_base else 0
                count_lower[index] = max(count_lower[index], cell.value - slack, 0.0)
                count_upper[index] = min(count_upper[index], cell.value + slack)
            elif before.kind is TableKind.SUM and amount_lower is not None:
                assert amount_upper is not None
                amount_lower[index] = amount_upper[index] = cell.value
    return Knowledge(count_lower, count_upper, amount_lower, amount_upper), notes
