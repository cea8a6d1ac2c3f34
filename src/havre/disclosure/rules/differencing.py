"""Differencing: the new table, subtracted from an earlier release, may not describe a small
group (see ``havre.disclosure.differencing``)."""

from __future__ import annotations

import numpy as np

from havre.disclosure.cells import BoolArray, CellTable
from havre.disclosure.context import CheckContext
from havre.disclosure.differencing import candidate_record, differencing_findings
from havre.disclosure.policy import PolicyParams
from havre.disclosure.registry import rule
from havre.disclosure.report import CellFlag, Status


@rule(
    "differencing",
    applies_to=(CellTable,),
    description="combined with earlier releases of the project, no group below threshold",
)
def check(table: CellTable, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    if not context.earlier_releases:
        return []
    if context.population is None:
        context.note("no population was given: differencing with earlier releases not checked")
        return []
    current = candidate_record(table, context.population)
    findings = differencing_findings(
        current, context.earlier_releases, params.threshold, context.overlaps
    )
    reported = table.reported_mask()
    flags: list[CellFlag] = []
    for finding in findings:
        if finding.cell is None:
            # Suppressing cells cannot help: which cells change would itself say where the
            # few persons are. The output as a whole is refused.
            context.refuse(finding.reason)
            indices = np.flatnonzero(reported)
        else:
            indices = np.array([_carrier(table, table.index_of(finding.cell), reported)])
        flags.extend(CellFlag(int(i), "differencing", Status.FAIL, finding.reason) for i in indices)
    return flags


def _carrier(table: CellTable, index: int, reported: BoolArray) -> int:
    """The cell to suppress for a finding on ``index``: itself when reported; otherwise
    (a margin that is not shown but is the sum of shown cells) its smallest non-empty cell,
    which secondary suppression will then protect."""
    if reported.ravel()[index]:
        return index
    position = np.unravel_index(index, table.shape)
    selector = tuple(
        slice(None) if int(p) == len(levels) else int(p)
        for p, levels in zip(position, table.levels, strict=True)
    )
    candidates = np.zeros(table.shape, dtype=bool)
    candidates[selector] = True
    candidates &= reported & (table.persons > 0)
    flat = np.flatnonzero(candidates)
    if flat.size == 0:
        return index
    persons = table.persons.ravel()[flat]
    return int(flat[int(np.argmin(persons))])
