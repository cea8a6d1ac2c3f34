"""The linear relations a table's cells and margins obey, as a sparse matrix over positions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]

from havre.disclosure.cells import FloatArray, IntArray


def lines(shape: tuple[int, ...]) -> list[IntArray]:
    """For each axis, the lines along it: rows of flat positions, the total in the last column."""
    flat = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return [np.moveaxis(flat, axis, -1).reshape(-1, shape[axis]) for axis in range(len(shape))]


@dataclass(frozen=True)
class Relations:
    """``equalities @ x == 0`` and ``inequalities @ x <= 0`` for the true table ``x``."""

    equalities: sparse.csr_matrix
    inequalities: sparse.csr_matrix


def relations(shape: tuple[int, ...], additive: bool) -> Relations:
    size = int(np.prod(shape))
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    data: list[FloatArray] = []
    urows: list[IntArray] = []
    ucols: list[IntArray] = []
    udata: list[FloatArray] = []
    eq_count = 0
    ub_count = 0
    for axis_lines in lines(shape):
        n_lines, width = axis_lines.shape
        interior = axis_lines[:, :-1]
        total = axis_lines[:, -1]
        if additive:
            # sum(interior) - total == 0
            line_ids = eq_count + np.arange(n_lines, dtype=np.int64)
            rows += [np.repeat(line_ids, width - 1), line_ids]
            cols += [interior.ravel(), total]
            data += [np.ones(interior.size), -np.ones(n_lines)]
            eq_count += n_lines
        else:
            # each interior cell <= total (a person counted once in the total) ...
            cell_rows = ub_count + np.arange(interior.size, dtype=np.int64)
            urows += [cell_rows, cell_rows]
            ucols += [interior.ravel(), np.repeat(total, width - 1)]
            udata += [np.ones(interior.size), -np.ones(interior.size)]
            ub_count += interior.size
            # ... and total <= sum(interior) (a person in several cells counted once)
            line_ids = ub_count + np.arange(n_lines, dtype=np.int64)
            urows += [np.repeat(line_ids, width - 1), line_ids]
            ucols += [interior.ravel(), total]
            udata += [-np.ones(interior.size), np.ones(n_lines)]
            ub_count += n_lines
    return Relations(
        equalities=_matrix(rows, cols, data, eq_count, size),
        inequalities=_matrix(urows, ucols, udata, ub_count, size),
    )


def _matrix(
    rows: list[IntArray], cols: list[IntArray], data: list[FloatArray], n_rows: int, size: int
) -> sparse.csr_matrix:
    if not rows:
        return sparse.csr_matrix((0, size))
    return sparse.csr_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, size),
    )
