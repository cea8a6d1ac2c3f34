"""Histograms: bins count distinct persons; small bins are merged or suppressed."""

from __future__ import annotations

import numpy as np
import pytest

from havre.core.errors import DataValidationError, UsageError
from havre.disclosure.check import check_histogram
from havre.disclosure.histogram import histogram, protect_histogram
from havre.disclosure.policy import Policy


def test_bins_count_distinct_persons() -> None:
    values = [1.0, 1.5, 2.5, 2.6, 9.0]
    persons = ["a", "a", "b", "b", "c"]
    hist = histogram(values, [0, 2, 4, 10], persons)
    assert hist.persons.tolist() == [1, 1, 1]
    assert histogram(values, [0, 2, 4, 10]).persons.tolist() == [2, 2, 1]


def test_small_bins_are_merged_until_every_bin_passes() -> None:
    rng = np.random.default_rng(5)
    ages = np.concatenate([rng.uniform(20, 60, 300), [92.0, 95.0, 99.0]])
    edges = np.arange(0, 101, 10)
    result = check_histogram(ages, edges, Policy())
    assert result.report.status.value == "fail"
    assert ("[90, 100]",) in result.report.flagged("histogram")
    released = result.released
    assert (released.persons >= 10).all()
    assert released.persons.sum() == len(ages)
    assert result.released_report.status.value == "pass"
    assert released.edges[0] == 0 and released.edges[-1] == 100


def test_suppress_mode_withholds_a_second_bin_when_one_would_be_recomputed() -> None:
    values = np.concatenate([np.full(20, 1.0), np.full(30, 5.0), np.full(3, 9.0)])
    hist = protect_histogram(values, [0, 4, 8, 10], threshold=10, mode="suppress")
    assert hist.suppressed is not None
    assert hist.suppressed.tolist() == [True, False, True]
    policy = Policy().with_params(histogram_mode="suppress")
    result = check_histogram(values, [0, 4, 8, 10], policy)
    assert result.released_report.status.value == "pass"
    assert [c.value for c in result.released_report.cells] == [None, 30, None]


def test_edges_and_values_are_validated() -> None:
    with pytest.raises(UsageError):
        histogram([1.0], [2, 1])
    with pytest.raises(DataValidationError, match="outside"):
        histogram([1.0, 50.0], [0, 10])
