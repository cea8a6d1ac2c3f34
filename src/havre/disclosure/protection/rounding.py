"""Controlled rounding of count tables (one or two dimensions, with margins).

Every cell and margin moves to an adjacent multiple of the base (a multiple stays put) and the
rounded margins are exactly the sums of the rounded cells. Writing each value as
``floor + base·y`` with ``y`` in {0, 1}, consistency is a set of line equations on ``y``:
for two dimensions a bipartite flow problem whose constraint matrix is totally unimodular,
so an integral solution always exists (Cox, 1987). We solve it as an integer programme with
HiGHS (``scipy.optimize.milp``), minimising the total distance to the true values, then
verify the result independently.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]

from havre.core.errors import EngineError, UsageError
from havre.disclosure.cells import CellTable, FloatArray, IntArray, TableKind
from havre.disclosure.protection.lines import lines, relations

BASES = (5, 10)


def controlled_round(table: CellTable, base: int) -> IntArray:
    """The rounded persons of every position of ``table`` (extended shape)."""
    if base not in BASES:
        raise UsageError(f"Rounding base must be one of {', '.join(map(str, BASES))}; got {base}")
    if table.kind is not TableKind.COUNT:
        raise UsageError("Controlled rounding applies to count tables")
    if table.ndim > 2:
        raise UsageError(
            f"Controlled rounding is available for tables of 1 or 2 dimensions, not {table.ndim}",
            hint="use suppression for larger tables",
        )
    if not table.additive:
        raise UsageError(
            "Controlled rounding needs margins that are sums of cells; here some persons are in "
            "several cells",
            hint="use suppression, or give each person one category",
        )
    x = table.persons.ravel().astype(np.int64)
    floor = (x // base) * base
    residual = (x - floor).astype(np.float64)
    # Moving up costs base - residual, staying down costs residual: minimise the sum.
    cost = base - 2.0 * residual
    upper = (residual > 0).astype(np.float64)  # a multiple of the base stays where it is
    matrix = relations(table.shape, additive=True).equalities
    rhs = -(matrix @ floor.astype(np.float64)) / base
    result = milp(
        cost,
        integrality=np.ones(x.size),
        bounds=Bounds(np.zeros(x.size), upper),
        constraints=LinearConstraint(matrix, rhs, rhs),
    )
    if result.status != 0 or result.x is None:
        raise EngineError(f"Controlled rounding found no solution ({result.message})")
    rounded: IntArray = (floor + base * np.round(result.x).astype(np.int64)).reshape(table.shape)
    verify_rounding(table.persons, rounded, base)
    return rounded


def verify_rounding(original: IntArray, rounded: IntArray, base: int) -> None:
    """Each value on an adjacent multiple of ``base``; every margin the sum of its line."""
    if (rounded % base).any():
        raise EngineError("Controlled rounding produced a value that is not a multiple of the base")
    if (np.abs(rounded - original) >= base).any():
        raise EngineError("Controlled rounding moved a value beyond an adjacent multiple")
    flat = rounded.ravel()
    for axis_lines in lines(rounded.shape):
        values = flat[axis_lines]
        if not np.array_equal(values[:, :-1].sum(axis=1), values[:, -1]):
            raise EngineError("Controlled rounding left a margin that is not the sum of its cells")


def rounded_values(table: CellTable, base: int) -> FloatArray:
    values: FloatArray = controlled_round(table, base).astype(np.float64)
    return values
