"""Differencing attacks across releases are flagged; earlier margins count as known."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from havre.disclosure.aggregate import TableSpec, aggregate
from havre.disclosure.cells import CellTable
from havre.disclosure.check import check_table
from havre.disclosure.context import CheckContext
from havre.disclosure.differencing import differencing_findings
from havre.disclosure.policy import Policy
from havre.disclosure.releases import (
    PopulationOverlap,
    PopulationRef,
    ReleaseRecord,
    release_record,
)

BASE = "workspace:prj_1@v3"


def _cohort(n_per_cell: dict[tuple[str, str], int], skip: int = 0) -> pa.Table:
    rows = []
    for (region, sex), n in n_per_cell.items():
        rows += [{"pid": f"{region}{sex}{i}", "region": region, "sex": sex} for i in range(n)]
    return pa.Table.from_pylist(rows[skip:])


CELLS = {("R1", "F"): 30, ("R1", "M"): 25, ("R2", "F"): 40, ("R2", "M"): 35}


def _table(data: pa.Table) -> CellTable:
    return aggregate(data, TableSpec("pid", ("region", "sex")))


def _released(table: CellTable, definition: dict[str, str], release_id: str) -> ReleaseRecord:
    population = PopulationRef.from_definition(BASE, definition, int(table.persons.ravel()[-1]))
    result = check_table(table, Policy(), suppress=True)
    return release_record(
        table, ~np.isnan(result.released), population, release_id, values=result.released
    )


def test_two_cohorts_differing_by_one_person_are_flagged() -> None:
    everyone = _table(_cohort(CELLS))
    earlier = _released(everyone, {"age": ">= 18"}, "rel_1")
    one_less = _table(_cohort(CELLS, skip=1))
    population = PopulationRef.from_definition(
        BASE, {"age": ">= 18", "exclude": "oldest"}, int(one_less.persons.ravel()[-1])
    )
    context = CheckContext(population=population, earlier_releases=(earlier,))
    report = check_table(one_less, Policy(), context).report
    assert report.status.value == "fail"
    assert all("differencing" in c.rules for c in report.cells)
    assert all(c.value is None for c in report.cells)


def test_nested_cohorts_with_a_small_difference_in_one_cell() -> None:
    everyone = _table(_cohort(CELLS))
    earlier = _released(everyone, {"age": ">= 18"}, "rel_1")
    fewer = dict(CELLS)
    fewer[("R1", "F")] = 28  # two persons fewer in R1/F ...
    fewer[("R2", "M")] = 15  # ... twenty fewer in R2/M
    subset = _table(_cohort(fewer))
    population = PopulationRef.from_definition(
        BASE, {"age": ">= 18", "ald": True}, int(subset.persons.ravel()[-1])
    )
    context = CheckContext(population=population, earlier_releases=(earlier,))
    report = check_table(subset, Policy(), context).report
    flagged = set(report.flagged("differencing"))
    assert ("R1", "F") in flagged
    assert ("R2", "M") not in flagged
    assert ("R1", None) in flagged  # the row total also moved by two


def test_populations_of_another_base_are_not_compared() -> None:
    everyone = _table(_cohort(CELLS))
    earlier = _released(everyone, {"age": ">= 18"}, "rel_1")
    other = _table(_cohort(CELLS, skip=1))
    population = PopulationRef.from_definition("workspace:prj_2@v1", {}, 129)
    context = CheckContext(population=population, earlier_releases=(earlier,))
    assert not check_table(other, Policy(), context).report.flagged("differencing")


def test_an_exact_overlap_catches_a_swap_of_one_person() -> None:
    everyone = _table(_cohort(CELLS))
    earlier = _released(everyone, {"year": 2023}, "rel_1")
    current = PopulationRef.from_definition(BASE, {"year": 2024}, earlier.population.size)
    record = ReleaseRecord(
        release_id="(current)",
        kind=earlier.kind,
        dims=earlier.dims,
        population=current,
        cells=earlier.cells,
    )
    # Same size: without the overlap nothing can be said...
    assert differencing_findings(record, [earlier], 10) == []
    # ... with it, one person in, one person out is a small difference.
    overlap = {"rel_1": PopulationOverlap(only_current=1, only_earlier=1)}
    findings = differencing_findings(record, [earlier], 10, overlap)
    assert findings and findings[0].cell is None


def test_an_earlier_margin_of_the_same_population_is_known() -> None:
    counts = {("R1", "F"): 12, ("R1", "M"): 12, ("R2", "F"): 12, ("R2", "M"): 9}
    data = _cohort(counts)
    by_region = aggregate(data, TableSpec("pid", ("region",)))
    definition = {"cohort": "A"}
    size = int(by_region.persons.ravel()[-1])
    population = PopulationRef.from_definition(BASE, definition, size)
    earlier = release_record(
        by_region, np.ones(by_region.shape, dtype=bool), population, "rel_regions"
    )
    table = _table(data)
    alone = check_table(table, Policy().with_params(margins=False), suppress=True)
    assert alone.report.cell(("R2", "F")).value == 12  # no margins, nothing to protect
    context = CheckContext(population=population, earlier_releases=(earlier,))
    combined = check_table(table, Policy().with_params(margins=False), context, suppress=True)
    # R2 = 21 was released before: R2/F must go too, or R2/M = 21 - 12.
    assert combined.report.cell(("R2", "F")).value is None
    assert combined.protection is not None and combined.protection.protected
