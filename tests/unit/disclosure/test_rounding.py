"""Controlled rounding: adjacent multiples, margins equal to the sums of rounded cells."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from havre.core.errors import UsageError
from havre.disclosure.check import check_table
from havre.disclosure.policy import Policy
from havre.disclosure.protection.lines import lines
from havre.disclosure.protection.rounding import controlled_round

tables = st.one_of(
    arrays(np.int64, st.tuples(st.integers(1, 12)), elements=st.integers(0, 200)),
    arrays(np.int64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=st.integers(0, 200)),
)


@settings(max_examples=40, deadline=None)
@given(counts=tables, base=st.sampled_from([5, 10]))
def test_rounding_is_controlled(counts: np.ndarray, base: int, make_count_table: Any) -> None:
    table = make_count_table(counts)
    rounded = controlled_round(table, base)
    original = table.persons
    assert (rounded % base == 0).all()
    assert (np.abs(rounded - original) < base).all()
    assert (rounded[original % base == 0] == original[original % base == 0]).all()
    flat = rounded.ravel()
    for axis_lines in lines(rounded.shape):
        values = flat[axis_lines]
        assert (values[:, :-1].sum(axis=1) == values[:, -1]).all()


def test_rounding_is_the_closest_controlled_rounding(make_count_table: Any) -> None:
    table = make_count_table(np.array([[12, 7], [3, 24]]))
    rounded = controlled_round(table, 5)
    x = table.persons.ravel()
    floor = (x // 5) * 5
    best = None
    # Brute force over every choice of up/down for the 9 positions.
    for bits in itertools.product((0, 1), repeat=x.size):
        candidate = floor + 5 * np.array(bits) * (x % 5 > 0)
        grid = candidate.reshape(table.shape)
        rows_ok = (grid[:2, :2].sum(axis=1) == grid[:2, 2]).all()
        columns_ok = (grid[:2, :2].sum(axis=0) == grid[2, :2]).all()
        if rows_ok and columns_ok and grid[:2, 2].sum() == grid[2, 2] == grid[2, :2].sum():
            distance = int(np.abs(candidate - x).sum())
            best = distance if best is None else min(best, distance)
    assert best is not None
    assert int(np.abs(rounded.ravel() - x).sum()) == best


def test_rounding_limits(make_count_table: Any) -> None:
    with pytest.raises(UsageError, match="base"):
        controlled_round(make_count_table(np.array([1, 2])), 3)
    with pytest.raises(UsageError, match="1 or 2 dimensions"):
        controlled_round(make_count_table(np.ones((2, 2, 2), dtype=np.int64)), 5)


def test_rounded_report(make_count_table: Any) -> None:
    table = make_count_table(np.array([[12, 17], [33, 24]]))
    report = check_table(table, Policy(), rounding_base=5).report
    values = [c.value for c in report.cells]
    assert all(v is not None and v % 5 == 0 for v in values)
    assert report.mitigation is not None and report.mitigation.rounding_base == 5
