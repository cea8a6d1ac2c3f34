"""Primary and secondary suppression, proven by linear programming.

Protection criterion, for every suppressed cell (primary or complementary), over every table
an intruder cannot rule out given the released cells and margins, the table's relations,
earlier releases of the same population, and non-negativity:

* person counts: ``floor(max) - ceil(min) >= threshold`` (the possible integer values span at
  least ``threshold``). Magnitude tables are held to this too, since their person counts are
  usually released beside them or can be obtained.
* amounts (sum and mean tables): ``max - x >= q·|x|`` and ``x - min >= q·|x|`` with
  ``q = value_protection`` (default ``p_percent``): the intruder cannot pin the cell's total
  to within ``q`` of its value on either side. Since ``q·x >= p·x1 - (x - x1 - x2)``, this
  also meets the p% rule's protection level.

Complementary cells are chosen box by box (``hypercube``), then every suppressed cell is
checked by LP; cells still exposed get another box, and as a last resort every released cell
on their lines is suppressed. More suppression only widens the intervals, so cells proven
once stay proven.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from havre.disclosure.cells import BoolArray, CellTable, FloatArray, IntArray
from havre.disclosure.policy import PolicyParams
from havre.disclosure.protection.hypercube import System, best_box, certified_corners
from havre.disclosure.protection.intervals import integer_width, prove
from havre.disclosure.protection.lines import Relations, lines, relations

MAX_ROUNDS = 12
LP_EVERY_CELL = 400


@dataclass(frozen=True)
class Knowledge:
    """What an intruder knows of each position before this release (flat, extended shape)."""

    count_lower: FloatArray
    count_upper: FloatArray
    amount_lower: FloatArray | None = None
    amount_upper: FloatArray | None = None


@dataclass(frozen=True)
class ProtectionResult:
    primary: BoolArray
    secondary: BoolArray
    protected: bool
    unprotected: BoolArray  # suppressed cells the LP could not protect
    lp_checks: int
    rounds: int

    @property
    def suppressed(self) -> BoolArray:
        mask: BoolArray = self.primary | self.secondary
        return mask


def prior_knowledge(table: CellTable) -> Knowledge:
    """Nothing known before this release: non-negative where the data are."""
    size = table.size
    count_lower = np.zeros(size)
    count_upper = np.full(size, np.inf)
    amount_lower = amount_upper = None
    if table.kind.is_linear and table.kind.is_magnitude:
        m = table.magnitudes
        assert m is not None
        amount_lower = np.full(size, -np.inf if m.has_negative else 0.0)
        amount_upper = np.full(size, np.inf)
    return Knowledge(count_lower, count_upper, amount_lower, amount_upper)


def protect(
    table: CellTable,
    primary: BoolArray,
    params: PolicyParams,
    prior: Knowledge | None = None,
    *,
    lp_every_cell: bool | None = None,
) -> ProtectionResult:
    """Suppress ``primary`` cells and enough others that none can be recomputed or narrowed.

    Each suppressed cell is proven protected by LP, or by the certificate of a box (two
    explicit tables consistent with the release, see ``hypercube``). Up to
    ``LP_EVERY_CELL`` suppressed cells (or with ``lp_every_cell``) the LP checks every cell.
    """
    shape = table.shape
    reported = table.reported_mask().ravel()
    structural = table.structural_mask().ravel()
    primary_flat = primary.ravel() & reported
    prior = prior or prior_knowledge(table)
    empty = np.zeros(shape, dtype=bool)
    if not _anything_known(table, reported, prior):
        # No margin released and nothing known before: every line holds a hidden total, so
        # each suppressed cell can grow without bound (and shrink to zero).
        return ProtectionResult(primary_flat.reshape(shape), empty, True, empty, 0, 0)

    counts = table.persons.ravel().astype(np.float64)
    count_relations = relations(shape, table.additive)
    amounts: FloatArray | None = None
    amount_relations: Relations | None = None
    if prior.amount_lower is not None:
        m = table.magnitudes
        assert m is not None
        amounts = m.total.ravel()
        amount_relations = relations(shape, additive=True)

    # Cells bounded before this release (structural zeros, earlier releases) cannot be moved
    # to hide another; positions that are not reported (margins not shown) hide for free.
    movable = ~structural & _unbounded(prior)
    weight = _weights(counts, amounts, reported)
    suppressed = primary_flat | ~reported
    count_system = System(counts, nonnegative=True)
    amount_system = None
    if amounts is not None:
        assert prior.amount_lower is not None
        amount_system = System(amounts, nonnegative=bool(np.isfinite(prior.amount_lower).all()))

    certified = np.zeros(table.size, dtype=bool)
    proven = np.zeros(table.size, dtype=bool)
    exposed = np.zeros(table.size, dtype=bool)
    pending = [int(i) for i in np.flatnonzero(primary_flat)]
    lp_checks = 0
    rounds = 0
    for rounds in range(1, MAX_ROUNDS + 1):
        for target in pending:
            if not movable[target] or (rounds == 1 and certified[target]):
                continue
            if rounds > MAX_ROUNDS // 2:
                suppressed |= _line_partners(target, shape, movable)
                continue
            box = best_box(
                target,
                shape,
                counts=count_system,
                amounts=amount_system,
                required_count_width=params.threshold,
                value_protection=params.magnitude_protection,
                suppressed=suppressed,
                movable=movable,
                weight=weight,
                require_new=rounds > 1,
            )
            if box is None:
                continue
            suppressed[box.corners] = True
            if box.feasible:
                certified[
                    certified_corners(
                        box,
                        count_system,
                        amount_system,
                        params.threshold,
                        params.magnitude_protection,
                        table.additive,
                    )
                ] = True
        candidates = suppressed & reported & ~proven
        every = lp_every_cell
        if every is None:
            every = int((suppressed & reported).sum()) <= LP_EVERY_CELL
        to_check = np.flatnonzero(candidates if every else candidates & ~certified)
        exposed_now, solved = _exposed(
            to_check,
            suppressed,
            reported,
            counts,
            amounts,
            prior,
            params,
            count_relations,
            amount_relations,
        )
        lp_checks += solved
        proven[to_check[~exposed_now]] = True
        if not every:
            proven |= candidates & certified
        exposed = suppressed & reported & ~proven
        pending = [int(i) for i in np.flatnonzero(exposed & movable)]
        if not pending:
            break
    return ProtectionResult(
        primary=primary_flat.reshape(shape),
        secondary=(suppressed & reported & ~primary_flat).reshape(shape),
        protected=not exposed.any(),
        unprotected=exposed.reshape(shape),
        lp_checks=lp_checks,
        rounds=rounds,
    )


def _unbounded(prior: Knowledge) -> BoolArray:
    free: BoolArray = (prior.count_lower <= 0) & np.isinf(prior.count_upper)
    if prior.amount_upper is not None:
        free &= np.isinf(prior.amount_upper)
    return free


def verify(
    table: CellTable,
    suppressed: BoolArray,
    params: PolicyParams,
    prior: Knowledge | None = None,
) -> tuple[BoolArray, int]:
    """Which suppressed cells an intruder could pin down or narrow (and LPs solved)."""
    prior = prior or prior_knowledge(table)
    counts = table.persons.ravel().astype(np.float64)
    amounts = None
    amount_relations = None
    if prior.amount_lower is not None:
        m = table.magnitudes
        assert m is not None
        amounts = m.total.ravel()
        amount_relations = relations(table.shape, additive=True)
    flat = suppressed.ravel() & table.reported_mask().ravel()
    targets = np.flatnonzero(flat)
    exposed, solved = _exposed(
        targets,
        flat,
        table.reported_mask().ravel(),
        counts,
        amounts,
        prior,
        params,
        relations(table.shape, table.additive),
        amount_relations,
    )
    out = np.zeros(table.size, dtype=bool)
    out[targets[exposed]] = True
    return out.reshape(table.shape), solved


def _exposed(
    targets: IntArray,
    suppressed: BoolArray,
    reported: BoolArray,
    counts: FloatArray,
    amounts: FloatArray | None,
    prior: Knowledge,
    params: PolicyParams,
    count_relations: Relations,
    amount_relations: Relations | None,
) -> tuple[BoolArray, int]:
    """Which ``targets`` fail the protection criterion, and how many LPs that took."""
    if targets.size == 0:
        return np.zeros(0, dtype=bool), 0
    released = reported & ~suppressed

    def counts_ok(low: FloatArray, high: FloatArray, positions: IntArray) -> BoolArray:
        ok: BoolArray = integer_width(low, high) >= params.threshold
        return ok

    lower = np.where(released, counts, prior.count_lower)
    upper = np.where(released, counts, prior.count_upper)
    found = prove(count_relations, counts, lower, upper, targets, counts_ok)
    exposed = ~counts_ok(found.lower, found.upper, targets)
    solved = found.lp_solved
    if amounts is not None and amount_relations is not None:
        assert prior.amount_lower is not None and prior.amount_upper is not None
        values = amounts

        def amounts_ok(low: FloatArray, high: FloatArray, positions: IntArray) -> BoolArray:
            value = values[positions]
            needed = params.magnitude_protection * np.abs(value)
            slack = 1e-9 * np.maximum(1.0, np.abs(value))  # the LP works in floating point
            ok: BoolArray = (high - value >= needed - slack) & (value - low >= needed - slack)
            return ok

        lower = np.where(released, amounts, prior.amount_lower)
        upper = np.where(released, amounts, prior.amount_upper)
        found = prove(amount_relations, amounts, lower, upper, targets, amounts_ok)
        exposed |= ~amounts_ok(found.lower, found.upper, targets)
        solved += found.lp_solved
    return exposed, solved


def _weights(counts: FloatArray, amounts: FloatArray | None, reported: BoolArray) -> FloatArray:
    """Information lost by suppressing a cell: its value (amount or count), plus one per cell
    so that fewer cells are preferred. Unreleased positions (margins not shown) cost nothing."""
    base = np.abs(amounts) if amounts is not None else counts
    scale = base[reported].max() if reported.any() and base[reported].max() > 0 else 1.0
    weight: FloatArray = np.where(reported, 1.0 + 100.0 * base / scale, 0.0)
    return weight


def _line_partners(target: int, shape: tuple[int, ...], movable: BoolArray) -> BoolArray:
    """Every movable cell on a line through ``target`` (the last-resort widening)."""
    mask = np.zeros(int(np.prod(shape)), dtype=bool)
    for axis_lines in lines(shape):
        hit = (axis_lines == target).any(axis=1)
        cells = axis_lines[hit].ravel()
        mask[cells] = True
    mask &= movable
    return mask


def _anything_known(table: CellTable, reported: BoolArray, prior: Knowledge) -> bool:
    margins_shown = bool((reported & ~table.interior_mask().ravel()).any())
    bounded = bool(np.isfinite(prior.count_upper).any())
    if prior.amount_upper is not None:
        bounded |= bool(np.isfinite(prior.amount_upper).any())
    return margins_shown or bounded
