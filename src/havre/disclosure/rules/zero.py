"""Zeros: an empty cell of a frequency table says that nobody has that combination, which is
itself a disclosure (everyone in the row then has another value) unless the zero is structural
(impossible by definition, declared by the analyst)."""

from __future__ import annotations

from havre.disclosure.cells import CellTable, TableKind
from havre.disclosure.context import CheckContext
from havre.disclosure.policy import PolicyParams
from havre.disclosure.registry import rule
from havre.disclosure.report import CellFlag
from havre.disclosure.rules import table_flags


@rule(
    "zero",
    applies_to=(CellTable,),
    description="empty cells of frequency tables fail unless declared structural",
)
def check(table: CellTable, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    # In a magnitude table an empty cell already fails the threshold rule.
    if table.kind is not TableKind.COUNT or not params.zeros_disclosive:
        return []
    empty = (table.persons == 0) & ~table.structural_mask()
    return table_flags(table, empty, "zero", "empty cell not declared as a structural zero")
