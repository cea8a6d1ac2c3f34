"""(n, k) dominance: the ``n`` largest contributors of a magnitude cell may not make up
``k`` or more of its total, or each of them learns too much about the others."""

from __future__ import annotations

import numpy as np

from havre.disclosure.cells import CellTable
from havre.disclosure.context import CheckContext
from havre.disclosure.policy import PolicyParams
from havre.disclosure.registry import rule
from havre.disclosure.report import CellFlag
from havre.disclosure.rules import table_flags


@rule(
    "nk",
    applies_to=(CellTable,),
    description="the n largest contributors make up less than k of a magnitude cell",
)
def check(table: CellTable, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    m = table.magnitudes
    if m is None:
        return []
    n = params.nk_n
    if m.tops.shape[0] < n:
        raise ValueError(f"the table keeps {m.tops.shape[0]} largest contributions, nk needs {n}")
    largest = m.tops[:n].sum(axis=0)
    # Contributions are compared in absolute value so that negative amounts cannot hide a
    # dominant contributor; a cell whose contributions are all zero has nobody dominating.
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(m.abs_total > 0, largest / np.where(m.abs_total > 0, m.abs_total, 1), 0)
    dominated = (m.abs_total > 0) & (share >= params.nk_k)
    reason = f"the {n} largest contributors make up at least {params.nk_k:.0%} of the total"
    return table_flags(table, dominated, "nk", reason)
