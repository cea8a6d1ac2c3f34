"""Filling the margins of an extended array from its interior, when persons do not overlap.

When each person falls in exactly one interior cell, a margin's persons are the disjoint
union of its cells' persons, so counts and sums add up, the largest contributions of a
margin are the largest among its cells' largest, and extremes are extremes of extremes.
Applying the reduction axis after axis fills every margin, the grand total included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from havre.disclosure.cells import FloatArray

AnyArray = NDArray[Any]


def _line(array: AnyArray, axis: int) -> tuple[tuple[slice | int, ...], tuple[slice, ...]]:
    total = array.shape[axis] - 1
    target: list[slice | int] = [slice(None)] * array.ndim
    source: list[slice] = [slice(None)] * array.ndim
    target[axis] = total
    source[axis] = slice(0, total)
    return tuple(target), tuple(source)


def fill_sums(array: AnyArray) -> None:
    for axis in range(array.ndim):
        target, source = _line(array, axis)
        array[target] = array[source].sum(axis=axis)


def fill_extreme(array: FloatArray, largest: bool) -> None:
    reduce = np.fmax.reduce if largest else np.fmin.reduce  # ignore NaN (empty cells)
    for axis in range(array.ndim):
        target, source = _line(array, axis)
        array[target] = reduce(array[source], axis=axis)


def fill_tops(tops: FloatArray) -> None:
    """``tops`` has shape ``(n, *extended)``: the n largest contributions per cell, descending."""
    n = tops.shape[0]
    for axis in range(1, tops.ndim):
        target, source = _line(tops, axis)
        line = np.moveaxis(tops[source], axis, 1)  # (n, L, ...)
        merged = line.reshape(n * line.shape[1], *line.shape[2:])
        merged = -np.sort(-merged, axis=0)[:n]
        tops[target] = merged
