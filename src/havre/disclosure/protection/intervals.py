"""What an intruder can infer about unreleased cells: the feasibility interval of each, by LP.

The intruder knows the released values (each position has bounds ``lower <= x <= upper``;
equal bounds for an exactly released value), the table's linear relations and that values
are non-negative when the data are. The interval of a target is ``[min x_t, max x_t]`` over
that polytope, found with HiGHS (``scipy.optimize.linprog``). Unknowns that share no relation
are solved apart (connected components), which keeps each LP small.

Every LP solution is itself a table the intruder cannot rule out, so its value in *every*
cell is a point of that cell's interval. ``prove`` keeps these points: a cell whose points
already span the required width is proven without an LP of its own, and only the others get
their exact minimum and maximum. A cell is reported exposed only from its exact interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from scipy.optimize import linprog  # type: ignore[import-untyped]
from scipy.sparse.csgraph import connected_components  # type: ignore[import-untyped]

from havre.core.errors import EngineError
from havre.disclosure.cells import BoolArray, FloatArray, IntArray
from havre.disclosure.protection.lines import Relations

_TOLERANCE = 1e-7
MAX_SWEEPS = 8

Requirement = Callable[[FloatArray, FloatArray, IntArray], BoolArray]
"""``(lower, upper, positions) -> protected``: whether an interval is wide enough."""


@dataclass(frozen=True)
class Intervals:
    targets: IntArray
    lower: FloatArray  # exact where ``exact``; otherwise a point at or above the minimum
    upper: FloatArray
    exact: BoolArray
    lp_solved: int


@dataclass
class _Component:
    positions: IntArray  # unknown positions in this component
    a_eq: sparse.csr_matrix
    b_eq: FloatArray
    a_ub: sparse.csr_matrix
    b_ub: FloatArray
    bounds: list[tuple[float | None, float | None]]


def prove(
    relations: Relations,
    truth: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    targets: IntArray,
    requirement: Requirement | None = None,
) -> Intervals:
    """Intervals of ``targets``; with ``requirement``, LPs stop as soon as each is settled.

    ``truth`` is the real table (a feasible point). Without ``requirement`` every target gets
    its exact interval.
    """
    targets = np.asarray(targets, dtype=np.int64)
    low = truth[targets].astype(np.float64)
    high = low.copy()
    exact = np.zeros(len(targets), dtype=bool)
    unknown = np.flatnonzero(lower < upper)
    is_fixed = ~np.isin(targets, unknown)
    exact[is_fixed] = True
    if unknown.size == 0 or is_fixed.all():
        return Intervals(targets, low, high, exact, 0)

    search = _Search(low, high, exact, requirement)
    slot_of: dict[int, list[int]] = {}
    for slot, position in enumerate(targets.tolist()):
        slot_of.setdefault(position, []).append(slot)
    for component in _components(relations, truth, lower, upper, unknown, targets):
        local = {int(p): k for k, p in enumerate(component.positions)}
        wanted = [p for p in component.positions.tolist() if p in slot_of]
        search.solve(
            component,
            slots=np.array([slot_of[p][0] for p in wanted], dtype=np.int64),
            columns=np.array([local[p] for p in wanted], dtype=np.int64),
            positions=np.array(wanted, dtype=np.int64),
        )
        # Duplicated targets share the first slot's answer.
        for position in wanted:
            first, *others = slot_of[position]
            for other in others:
                low[other], high[other], exact[other] = low[first], high[first], exact[first]
    return Intervals(targets, low, high, exact, search.solved)


@dataclass
class _Search:
    low: FloatArray
    high: FloatArray
    exact: BoolArray
    requirement: Requirement | None
    solved: int = 0

    def solve(
        self, component: _Component, slots: IntArray, columns: IntArray, positions: IntArray
    ) -> None:
        def observe(solution: FloatArray) -> None:
            values = solution[columns]
            self.low[slots] = np.minimum(self.low[slots], values)
            self.high[slots] = np.maximum(self.high[slots], values)

        def settled(k: int) -> bool:
            if self.requirement is None:
                return False
            s = slots[k : k + 1]
            return bool(self.requirement(self.low[s], self.high[s], positions[k : k + 1])[0])

        n = len(slots)
        if self.requirement is not None and n > 1:
            # Sweeps: LPs that push all unsettled targets up (then down) at once often settle
            # most of them; repeat while they keep settling some.
            open_ = np.array([not settled(k) for k in range(n)])
            for _ in range(MAX_SWEEPS):
                if open_.sum() < 2:
                    break
                for sign in (-1.0, 1.0):
                    objective = np.zeros(len(component.positions))
                    objective[columns[open_]] = sign
                    _, solution = _optimise(component, objective)
                    self.solved += 1
                    if solution is not None:
                        observe(solution)
                still = np.array([open_[k] and not settled(k) for k in range(n)])
                if still.sum() == open_.sum():
                    break
                open_ = still
        for k in range(n):
            if settled(k):
                continue
            sides = 0
            for sign in (-1.0, 1.0):
                objective = np.zeros(len(component.positions))
                objective[columns[k]] = sign
                value, solution = _optimise(component, objective)
                self.solved += 1
                if solution is not None:
                    observe(solution)
                if sign < 0:
                    self.high[slots[k]] = -value
                else:
                    self.low[slots[k]] = value
                sides += 1
                if sign < 0 and settled(k):
                    break
            self.exact[slots[k]] = sides == 2


def feasibility_intervals(
    relations: Relations,
    truth: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    targets: IntArray,
) -> Intervals:
    """Exact ``[min, max]`` of every target."""
    return prove(relations, truth, lower, upper, targets, requirement=None)


def _components(
    relations: Relations,
    truth: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    unknown: IntArray,
    targets: IntArray,
) -> list[_Component]:
    known_values = np.where(lower == upper, lower, 0.0)
    eq_u, eq_rhs = _restrict(relations.equalities, unknown, known_values)
    ub_u, ub_rhs = _restrict(relations.inequalities, unknown, known_values)
    incidence = sparse.vstack([eq_u, ub_u]).tocsr()
    incidence.data = np.ones_like(incidence.data)
    n_rows = incidence.shape[0]
    graph = sparse.bmat([[None, incidence], [incidence.T, None]], format="csr")
    _, labels = connected_components(graph, directed=False)
    var_labels = labels[n_rows:]
    eq_labels = labels[: eq_u.shape[0]]
    ub_labels = labels[eq_u.shape[0] : n_rows]
    wanted_labels = np.unique(var_labels[np.isin(unknown, targets)])
    components = []
    for label in wanted_labels.tolist():
        members = np.flatnonzero(var_labels == label)
        positions = unknown[members]
        bounds = [
            (None if np.isinf(lo) else float(lo), None if np.isinf(hi) else float(hi))
            for lo, hi in zip(lower[positions], upper[positions], strict=True)
        ]
        components.append(
            _Component(
                positions=positions,
                a_eq=eq_u[eq_labels == label][:, members],
                b_eq=eq_rhs[eq_labels == label],
                a_ub=ub_u[ub_labels == label][:, members],
                b_ub=ub_rhs[ub_labels == label],
                bounds=bounds,
            )
        )
    return components


def _restrict(
    matrix: sparse.csr_matrix, unknown: IntArray, known_values: FloatArray
) -> tuple[sparse.csr_matrix, FloatArray]:
    """Rows touching an unknown, over the unknown columns; the known part moves to the rhs."""
    if matrix.shape[0] == 0:
        return sparse.csr_matrix((0, unknown.size)), np.zeros(0)
    rhs = -(matrix @ known_values)
    sub = matrix[:, unknown].tocsr()
    touching = np.flatnonzero(np.diff(sub.indptr) > 0)
    return sub[touching], rhs[touching]


def _optimise(component: _Component, objective: FloatArray) -> tuple[float, FloatArray | None]:
    """Minimise ``objective @ x``; ``-inf`` and no solution when unbounded."""
    has_eq = component.a_eq.shape[0] > 0
    has_ub = component.a_ub.shape[0] > 0
    result = linprog(
        objective,
        A_ub=component.a_ub if has_ub else None,
        b_ub=component.b_ub if has_ub else None,
        A_eq=component.a_eq if has_eq else None,
        b_eq=component.b_eq if has_eq else None,
        bounds=component.bounds,
        method="highs",
    )
    if result.status == 3:  # unbounded: the intruder learns nothing on that side
        return -np.inf, None
    if result.status != 0:
        raise EngineError(
            f"The protection check could not solve a linear programme ({result.message})",
            hint="the released values are inconsistent with the table's margins; report this",
        )
    return float(result.fun), np.asarray(result.x, dtype=np.float64)


def integer_width(lower: FloatArray, upper: FloatArray) -> FloatArray:
    """Width of the interval of possible integer values (counts are integers)."""
    width: FloatArray = np.floor(upper + _TOLERANCE) - np.ceil(lower - _TOLERANCE)
    return width
