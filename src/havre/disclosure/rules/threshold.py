"""Threshold: a released cell describes at least ``threshold`` distinct persons."""

from __future__ import annotations

from havre.disclosure.cells import CellTable
from havre.disclosure.context import CheckContext
from havre.disclosure.policy import PolicyParams
from havre.disclosure.registry import rule
from havre.disclosure.report import CellFlag
from havre.disclosure.rules import table_flags


@rule(
    "threshold",
    applies_to=(CellTable,),
    description="each cell counts at least `threshold` distinct persons",
)
def check(table: CellTable, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    # A declared structural zero is known to everyone: it reveals nobody.
    small = (table.persons < params.threshold) & ~table.structural_mask()
    return table_flags(table, small, "threshold", f"fewer than {params.threshold} persons")
