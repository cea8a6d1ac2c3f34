"""p% rule: the second largest contributor, subtracting its own value from the total, may not
estimate the largest contribution to within ``p`` of its value."""

from __future__ import annotations

from havre.disclosure.cells import CellTable
from havre.disclosure.context import CheckContext
from havre.disclosure.policy import PolicyParams
from havre.disclosure.registry import rule
from havre.disclosure.report import CellFlag
from havre.disclosure.rules import table_flags


@rule(
    "p_percent",
    applies_to=(CellTable,),
    description="the rest of a magnitude cell, beyond its two largest contributors, "
    "is at least p of the largest",
)
def check(table: CellTable, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    m = table.magnitudes
    if m is None:
        return []
    remainder = m.abs_total - m.top1 - m.top2
    sensitive = (m.top1 > 0) & (remainder < params.p_percent * m.top1)
    reason = (
        f"beyond its two largest contributors the cell holds less than {params.p_percent:.0%} "
        "of the largest: the second could estimate it"
    )
    return table_flags(table, sensitive, "p_percent", reason)
