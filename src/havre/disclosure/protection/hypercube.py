"""Choosing complementary cells: the hypercube method, generalised to tables with margins.

For a target cell ``p`` pick, on every axis, another position ``a_k``; the 2^N corners of
the box they span can be moved together by ``+d`` / ``-d`` without changing any line sum (on
an axis where both positions are interior the two get opposite signs; where one is the
total they get the same sign). Once all corners are suppressed, an intruder cannot tell the
true table from the moved ones, so ``p`` may lie anywhere in ``[x - down, x + up]`` where
``up`` is the smallest value among the corners that decrease and ``down`` the smallest among
those that increase (values stay non-negative). Among all boxes, take the cheapest that gives
the required width; the LP check afterwards is the proof.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from havre.disclosure.cells import BoolArray, FloatArray, IntArray

MAX_CANDIDATES = 2_048


@dataclass(frozen=True)
class Box:
    corners: IntArray  # flat positions, the target first
    signs: FloatArray  # +1 / -1: how each corner moves when the target moves up
    feasible: bool
    cost: float


@dataclass(frozen=True)
class System:
    """One measure of the table (person counts or amounts) as the intruder would see it."""

    values: FloatArray  # flat, extended shape
    nonnegative: bool


def best_box(
    target: int,
    shape: tuple[int, ...],
    *,
    counts: System,
    amounts: System | None,
    required_count_width: float,
    value_protection: float,
    suppressed: BoolArray,
    movable: BoolArray,
    weight: FloatArray,
    require_new: bool,
) -> Box | None:
    """The cheapest box around ``target`` whose corners can all be moved (``movable``).

    ``suppressed`` corners cost nothing; ``require_new`` excludes boxes that add no cell
    (used when the LP found a box-protected cell still exposed, e.g. by a non-additive total).
    """
    position = np.unravel_index(target, shape)
    alternatives = []
    for axis, size in enumerate(shape):
        p = int(position[axis])
        total = size - 1
        options = np.array([i for i in range(size) if i != p and not (p == total and i == total)])
        alternatives.append(options)
    alternatives = _limit(alternatives, position, shape, np.where(suppressed, 0.0, weight))
    if any(len(a) == 0 for a in alternatives):
        return None
    grids = np.meshgrid(*alternatives, indexing="ij")
    alt = np.stack([g.ravel() for g in grids])  # (N, candidates)
    here = np.array([int(p) for p in position], dtype=np.int64)[:, None]
    totals = np.array(shape, dtype=np.int64)[:, None] - 1
    # On an axis where target and alternative are both interior the two move in opposite
    # directions; where one is the total they move together.
    axis_sign = np.where((here != totals) & (alt != totals), -1.0, 1.0)  # (N, candidates)
    patterns = _patterns(len(shape))  # (2^N, N); row 0 is the target itself
    strides = np.array([int(np.prod(shape[k + 1 :])) for k in range(len(shape))])
    chosen = patterns[:, :, None]
    corner_index = (np.where(chosen, alt[None], here[None]) * strides[None, :, None]).sum(axis=1)
    corner_sign = np.where(chosen, axis_sign[None], 1.0).prod(axis=1)

    valid = movable[corner_index].all(axis=0)
    count_width = _width(counts, corner_index, corner_sign)
    feasible = valid & (count_width >= required_count_width)
    if amounts is not None:
        up, down = _sides(amounts, corner_index, corner_sign)
        needed = value_protection * abs(float(amounts.values[target]))
        feasible &= (up >= needed) & (down >= needed)
    new_cells = ~suppressed[corner_index]
    cost = np.where(new_cells, weight[corner_index], 0.0).sum(axis=0)
    if require_new:
        valid &= new_cells.any(axis=0)
        feasible &= valid
    if not valid.any():
        return None
    if feasible.any():
        choice = int(np.argmin(np.where(feasible, cost, np.inf)))
    else:  # no single box suffices: take the widest, the next round adds another
        order = np.lexsort((cost, -np.where(valid, count_width, -np.inf)))
        choice = int(order[0])
    return Box(
        corners=corner_index[:, choice],
        signs=corner_sign[:, choice],
        feasible=bool(feasible[choice]),
        cost=float(cost[choice]),
    )


def certified_corners(
    box: Box,
    counts: System,
    amounts: System | None,
    required_count_width: float,
    value_protection: float,
    counts_additive: bool,
) -> IntArray:
    """Corners of a fully suppressed box that the box itself proves protected.

    Moving the box by ``+d`` or ``-d`` gives tables that agree with everything released, so
    each corner can take any value in ``[x - down, x + up]``: an explicit lower bound on the
    width of the interval the LP would find.
    """
    if not counts_additive:
        return np.zeros(0, dtype=np.int64)
    index = box.corners[:, None]
    sign = box.signs[:, None]
    ok = np.zeros(len(box.corners), dtype=bool)
    for k in range(len(box.corners)):
        relative = sign * sign[k]
        up_c = _side_min(counts, index, relative < 0)
        down_c = _side_min(counts, index, relative > 0)
        good = up_c + down_c >= required_count_width
        if amounts is not None:
            needed = value_protection * abs(float(amounts.values[box.corners[k]]))
            good &= (_side_min(amounts, index, relative < 0) >= needed) & (
                _side_min(amounts, index, relative > 0) >= needed
            )
        ok[k] = bool(good[0])
    certified: IntArray = box.corners[ok]
    return certified


def _side_min(system: System, index: IntArray, side: BoolArray) -> FloatArray:
    if not system.nonnegative:
        return np.full(index.shape[1], np.inf)
    result: FloatArray = np.where(side, system.values[index], np.inf).min(axis=0)
    return result


@functools.cache
def _patterns(ndim: int) -> BoolArray:
    return np.array(list(itertools.product((False, True), repeat=ndim)), dtype=bool)


def _sides(system: System, index: IntArray, sign: FloatArray) -> tuple[FloatArray, FloatArray]:
    """How far the target can move up and down: limited by the corners that move the other
    way (up) and the same way (down) as the target, which may not go below zero."""
    if not system.nonnegative:
        infinite = np.full(index.shape[1], np.inf)
        return infinite, infinite
    values = system.values[index]
    relative = sign * sign[0]
    up = np.where(relative < 0, values, np.inf).min(axis=0)
    down = np.where(relative > 0, values, np.inf).min(axis=0)
    return up, down


def _width(system: System, index: IntArray, sign: FloatArray) -> FloatArray:
    up, down = _sides(system, index, sign)
    width: FloatArray = up + down
    return width


def _limit(
    alternatives: list[IntArray],
    position: tuple[np.intp, ...],
    shape: tuple[int, ...],
    weight: FloatArray,
) -> list[IntArray]:
    """Keep the enumeration bounded on large tables: the cheapest alternatives per axis."""
    total = int(np.prod([len(a) for a in alternatives]))
    if total <= MAX_CANDIDATES:
        return alternatives
    per_axis = max(2, int(MAX_CANDIDATES ** (1 / len(shape))))
    weights = weight.reshape(shape)
    limited = []
    for axis, options in enumerate(alternatives):
        index = [int(p) for p in position]
        costs = []
        for option in options:
            index[axis] = int(option)
            costs.append(weights[tuple(index)])
        keep = set(np.argsort(np.asarray(costs), kind="stable")[:per_axis].tolist())
        # The total is always kept: the box through the target's margins always exists, so a
        # feasible box is never lost to the limit.
        keep |= set(np.flatnonzero(options == shape[axis] - 1).tolist())
        limited.append(options[np.array(sorted(keep), dtype=np.int64)])
    return limited
