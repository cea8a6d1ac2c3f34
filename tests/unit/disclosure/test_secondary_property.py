"""Property: after secondary suppression, the released cells and margins never pin a
suppressed cell, nor bound it to fewer than ``threshold`` possible values (checked by an
independent LP on every suppressed cell)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from havre.disclosure.cells import CellTable, Magnitudes, TableKind
from havre.disclosure.margins import fill_extreme, fill_sums, fill_tops
from havre.disclosure.policy import PolicyParams
from havre.disclosure.protection.intervals import feasibility_intervals, integer_width
from havre.disclosure.protection.lines import relations
from havre.disclosure.protection.suppress import protect

shapes = st.one_of(
    st.tuples(st.integers(2, 7)),
    st.tuples(st.integers(2, 6), st.integers(2, 6)),
    st.tuples(st.integers(2, 4), st.integers(2, 4), st.integers(2, 4)),
)


@st.composite
def count_tables(draw: Any) -> tuple[np.ndarray, int]:
    shape = draw(shapes)
    counts = draw(
        arrays(np.int64, shape, elements=st.one_of(st.integers(0, 12), st.integers(0, 60)))
    )
    threshold = draw(st.sampled_from([3, 5, 10]))
    return counts, threshold


def _exact_intervals(table: CellTable, suppressed: np.ndarray) -> tuple[np.ndarray, ...]:
    counts = table.persons.ravel().astype(float)
    released = table.reported_mask().ravel() & ~suppressed.ravel()
    targets = np.flatnonzero(suppressed.ravel() & table.reported_mask().ravel())
    lower = np.where(released, counts, 0.0)
    upper = np.where(released, counts, np.inf)
    found = feasibility_intervals(
        relations(table.shape, table.additive), counts, lower, upper, targets
    )
    assert found.exact.all()
    return targets, found.lower, found.upper


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=count_tables(), every_cell_by_lp=st.booleans())
def test_no_suppressed_count_can_be_narrowed(
    case: tuple[np.ndarray, int], every_cell_by_lp: bool, make_count_table: Any
) -> None:
    counts, threshold = case
    table = make_count_table(counts)
    params = PolicyParams(threshold=threshold)
    primary = (table.persons < threshold) & table.reported_mask()
    result = protect(table, primary, params, lp_every_cell=every_cell_by_lp)
    assert result.protected
    assert not (result.primary & result.secondary).any()
    assert (result.primary == primary).all()
    targets, low, high = _exact_intervals(table, result.suppressed)
    assert len(targets) == int(result.suppressed.sum())
    width = integer_width(low, high)
    assert (width >= threshold).all(), (counts, threshold, width)
    assert (high > low).all()  # never pinned


@st.composite
def magnitude_tables(draw: Any) -> tuple[CellTable, float]:
    shape = draw(
        st.one_of(st.tuples(st.integers(2, 5), st.integers(2, 5)), st.tuples(st.integers(2, 6)))
    )
    persons = draw(arrays(np.int64, shape, elements=st.integers(0, 25)))
    amounts = draw(arrays(np.float64, shape, elements=st.floats(1, 1000)))
    amounts = np.where(persons > 0, amounts * persons, 0.0)
    ext = tuple(n + 1 for n in shape)
    p = np.zeros(ext, dtype=np.int64)
    total = np.zeros(ext)
    inner = tuple(slice(0, n) for n in shape)
    p[inner] = persons
    total[inner] = amounts
    fill_sums(p)
    fill_sums(total)
    # Contributions: one large contributor per cell, the rest equal.
    tops = np.zeros((2, *ext))
    tops[0][inner] = np.where(persons > 0, amounts / np.maximum(persons, 1) * 1.5, 0)
    tops[0][inner] = np.minimum(tops[0][inner], amounts)
    rest = amounts - tops[0][inner]
    tops[1][inner] = np.where(persons > 1, rest / np.maximum(persons - 1, 1), 0)
    fill_tops(tops)
    minimum = np.full(ext, np.nan)
    maximum = np.full(ext, np.nan)
    fill_extreme(minimum, False)
    fill_extreme(maximum, True)
    m = Magnitudes(total, total.copy(), tops, np.full(ext, np.nan), minimum, maximum, False)
    dims = tuple(f"d{k}" for k in range(len(shape)))
    levels = tuple(tuple(f"l{i}" for i in range(n)) for n in shape)
    table = CellTable(dims, levels, TableKind.SUM, p, m)
    return table, draw(st.sampled_from([0.05, 0.1, 0.2]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=magnitude_tables())
def test_no_suppressed_amount_can_be_estimated_closely(case: tuple[CellTable, float]) -> None:
    table, q = case
    params = PolicyParams(threshold=5, value_protection=q)
    primary = (table.persons < params.threshold) & table.reported_mask()
    result = protect(table, primary, params)
    assert result.protected
    amounts = table.magnitudes.total.ravel()  # type: ignore[union-attr]
    released = table.reported_mask().ravel() & ~result.suppressed.ravel()
    targets = np.flatnonzero(result.suppressed.ravel())
    found = feasibility_intervals(
        relations(table.shape, True),
        amounts,
        np.where(released, amounts, 0.0),
        np.where(released, amounts, np.inf),
        targets,
    )
    value = amounts[targets]
    tolerance = 1e-6 * np.maximum(1, value)
    assert (found.upper - value >= q * value - tolerance).all()
    assert (value - found.lower >= q * value - tolerance).all()
    _, low, high = _exact_intervals(table, result.suppressed)
    assert (integer_width(low, high) >= params.threshold).all()


def test_without_margins_nothing_needs_secondary_suppression(make_count_table: Any) -> None:
    table = make_count_table(np.array([[1, 50], [50, 50]]), margins=False)
    result = protect(table, table.persons < 10, PolicyParams())
    assert result.protected and not result.secondary.any() and result.lp_checks == 0


def test_a_one_dimensional_table_with_a_total_needs_a_second_cell(make_count_table: Any) -> None:
    table = make_count_table(np.array([3, 40, 55]))
    result = protect(table, (table.persons < 10) & table.reported_mask(), PolicyParams())
    assert result.protected
    assert result.secondary.sum() >= 1
    # The cheapest partner is the smaller remaining cell.
    assert result.secondary.ravel()[1]


def test_non_additive_margins_are_handled_by_the_lp() -> None:
    import pyarrow as pa

    from havre.disclosure.aggregate import TableSpec, aggregate

    rng = np.random.default_rng(4)
    rows = []
    for person in range(300):
        # Each person has one to three diagnoses: person counts by diagnosis do not add up.
        for diagnosis in rng.choice(6, size=rng.integers(1, 4), replace=False):
            rows.append({"pid": str(person), "dx": f"D{diagnosis}", "sex": "FM"[person % 2]})
    rows += [{"pid": "rare", "dx": "D9", "sex": "F"}]
    table = aggregate(pa.Table.from_pylist(rows), TableSpec("pid", ("dx", "sex")))
    assert not table.additive
    params = PolicyParams()
    primary = (table.persons < params.threshold) & table.reported_mask()
    result = protect(table, primary, params)
    assert result.protected and result.lp_checks > 0
    _, low, high = _exact_intervals(table, result.suppressed)
    assert (integer_width(low, high) >= params.threshold).all()
