"""Minima and maxima are one person's value: a checker reviews them unless the policy allows."""

from __future__ import annotations

from havre.disclosure.cells import CellTable, TableKind
from havre.disclosure.context import CheckContext
from havre.disclosure.policy import PolicyParams
from havre.disclosure.registry import rule
from havre.disclosure.report import CellFlag, Status
from havre.disclosure.rules import table_flags


@rule(
    "extremes",
    applies_to=(CellTable,),
    description="minimum and maximum tables go to review unless allow_min_max",
)
def check(table: CellTable, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    if table.kind not in (TableKind.MIN, TableKind.MAX) or params.allow_min_max:
        return []
    reason = f"a {table.kind.value}imum is the value of one person"
    return table_flags(table, table.persons > 0, "extremes", reason, Status.REVIEW)
