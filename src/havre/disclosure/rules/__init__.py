"""Built-in disclosure rules, one module each, registered with ``havre.disclosure.registry``."""

from __future__ import annotations

import numpy as np

from havre.disclosure.cells import BoolArray, CellTable
from havre.disclosure.report import CellFlag, Status


def table_flags(
    table: CellTable, mask: BoolArray, rule: str, reason: str, status: Status = Status.FAIL
) -> list[CellFlag]:
    """Flags for the reported cells of ``table`` where ``mask`` holds."""
    indices = np.flatnonzero(mask & table.reported_mask())
    return [CellFlag(int(i), rule, status, reason) for i in indices]
