"""Secondary suppression: suppress enough further cells that no failing cell can be
recomputed, or narrowed below the threshold, from the released cells and margins."""

from __future__ import annotations

import numpy as np

from havre.disclosure.cells import CellTable
from havre.disclosure.context import CheckContext
from havre.disclosure.differencing import known_from_releases
from havre.disclosure.policy import PolicyParams
from havre.disclosure.protection.suppress import protect
from havre.disclosure.registry import rule
from havre.disclosure.report import CellFlag, Status


@rule(
    "secondary",
    applies_to=(CellTable,),
    description="complementary suppression, proven by linear programming",
)
def check(table: CellTable, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    failing = context.failed_indices()
    if not failing:
        return []
    if context.refusals:
        return []  # the output is refused as a whole: nothing of it is released
    if not context.suppress:
        # As computed the table fails anyway; the protected table (and the complementary cells
        # it needs) is what a check with suppression returns.
        context.note(
            f"{len(failing)} cells fail: ask for suppression to get the protected table, "
            "with the complementary cells it needs"
        )
        return []
    if not table.kind.is_linear:
        context.note(
            f"{table.kind.value} tables have no additive margins: secondary suppression "
            "does not apply"
        )
        return []
    primary = np.zeros(table.size, dtype=bool)
    primary[list(failing)] = True
    prior, notes = known_from_releases(table, context.population, context.earlier_releases)
    for message in notes:
        context.note(message)
    result = protect(table, primary.reshape(table.shape), params, prior)
    context.protection = result
    if not result.protected:
        context.note(
            "some suppressed cells stay exposed (already known from earlier releases): "
            "the table cannot be protected by suppression"
        )
    reason = "complementary suppression: protects failing cells from recomputation"
    return [
        CellFlag(int(i), "secondary", Status.FAIL, reason) for i in np.flatnonzero(result.secondary)
    ]
