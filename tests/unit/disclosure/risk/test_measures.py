"""Risk measures on hand-computed histograms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]

from havre.disclosure.risk.measures import (
    expected_inverse_population_size,
    prosecutor_risk,
    sampled_risks,
    unique_share,
    whole_population_risks,
)
from havre.disclosure.risk.model import ClassHistogram

# Classes of sizes 1, 1, 2, 3, 5: 12 records in 5 classes.
HISTOGRAM = ClassHistogram(sizes=(1, 2, 3, 5), counts=(2, 1, 1, 1))


def test_histogram_counts() -> None:
    assert HISTOGRAM.records == 12
    assert HISTOGRAM.classes == 5
    assert HISTOGRAM.k == 1
    assert HISTOGRAM.records_below(3) == 4
    assert HISTOGRAM.records_below(1) == 0
    bins = {b["min_size"]: b for b in HISTOGRAM.bins()}
    assert bins[1]["classes"] == 2 and bins[1]["records"] == 2
    assert bins[5]["classes"] == 1 and bins[5]["records"] == 5
    assert sum(b["records"] for b in HISTOGRAM.bins()) == 12


def test_sample_uniqueness() -> None:
    assert unique_share(HISTOGRAM) == pytest.approx(2 / 12)
    assert unique_share(ClassHistogram((4,), (3,))) == 0.0


def test_prosecutor_risk() -> None:
    risk = prosecutor_risk(HISTOGRAM, threshold=0.2)
    assert risk.highest == 1.0
    assert risk.average == pytest.approx(5 / 12)
    # 1/size > 0.2 for sizes 1, 1, 2, 3: 7 records
    assert risk.records_at_risk == pytest.approx(7 / 12)
    assert prosecutor_risk(HISTOGRAM, threshold=0.5).records_at_risk == pytest.approx(2 / 12)
    # the threshold itself is not "above": classes of exactly 5 are not at risk at 0.2
    assert prosecutor_risk(ClassHistogram((5,), (4,)), 0.2).records_at_risk == 0.0


def test_prosecutor_risk_of_a_k_anonymous_table() -> None:
    risk = prosecutor_risk(ClassHistogram((5, 10), (2, 1)), threshold=0.2)
    assert risk.highest == pytest.approx(1 / 5)
    assert risk.average == pytest.approx(3 / 20)


def test_whole_population_journalist_equals_prosecutor() -> None:
    journalist, marketer = whole_population_risks(HISTOGRAM, 0.2)
    assert journalist == prosecutor_risk(HISTOGRAM, 0.2)
    assert marketer == pytest.approx(5 / 12)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 40])
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 0.9])
def test_expected_inverse_population_size_matches_the_negative_binomial_sum(
    size: int, fraction: float
) -> None:
    # F - f ~ NB(f, p): sum 1/F over the distribution, far into the tail
    extra = np.arange(0, 200_000)
    direct = float(np.sum(stats.nbinom.pmf(extra, size, fraction) / (extra + size)))
    closed = expected_inverse_population_size(np.array([float(size)]), fraction)[0]
    assert closed == pytest.approx(direct, rel=1e-9)


def test_expected_inverse_population_size_of_a_sample_unique() -> None:
    # Benedetti & Franconi: r = p / (1 - p) * ln(1 / p) for a sample unique
    p = 0.05
    value = expected_inverse_population_size(np.array([1.0]), p)[0]
    assert value == pytest.approx(p / (1 - p) * math.log(1 / p))
    assert expected_inverse_population_size(np.array([4.0]), 1.0)[0] == 0.25


def test_sampled_risks() -> None:
    journalist, marketer = sampled_risks(HISTOGRAM, fraction=0.5, threshold=0.2)
    rho = expected_inverse_population_size(np.array([1.0, 2.0, 3.0, 5.0]), 0.5)
    expected_marketer = (2 * 1 * rho[0] + 2 * rho[1] + 3 * rho[2] + 5 * rho[3]) / 12
    assert marketer == pytest.approx(expected_marketer)
    assert journalist.highest == pytest.approx(rho[0])
    assert journalist.average == pytest.approx(max(5 * 0.5 / 12, expected_marketer))
    at_risk = sum(s * c for s, c, r in zip((1, 2, 3, 5), (2, 1, 1, 1), rho, strict=True) if r > 0.2)
    assert journalist.records_at_risk == pytest.approx(at_risk / 12)
    # sampling lowers every figure below the prosecutor's
    prosecutor = prosecutor_risk(HISTOGRAM, 0.2)
    assert journalist.highest < prosecutor.highest
    assert marketer < prosecutor.average


def test_sampled_risks_at_full_sampling_are_the_whole_population_risks() -> None:
    journalist, marketer = sampled_risks(HISTOGRAM, fraction=1.0, threshold=0.2)
    whole, whole_marketer = whole_population_risks(HISTOGRAM, 0.2)
    assert journalist.highest == pytest.approx(whole.highest)
    assert journalist.average == pytest.approx(whole.average)
    assert marketer == pytest.approx(whole_marketer)


@pytest.mark.parametrize("fraction", [1e-7, 1e-4, 0.015, 0.5, 0.999999])
def test_expected_inverse_population_size_stays_finite_at_extremes(fraction: float) -> None:
    sizes = np.array([1.0, 2.0, 49.0, 50.0, 1e4, 1e6])
    values = expected_inverse_population_size(sizes, fraction)
    assert np.all(np.isfinite(values)) and np.all(values > 0)
    assert np.all(np.diff(values) < 0)  # larger classes, lower risk
    # for large classes the risk tends to p / (f - q) (Benedetti & Franconi's approximation)
    large = sizes >= 50
    approximation = fraction / (sizes[large] - (1 - fraction))
    assert values[large] == pytest.approx(approximation, rel=1e-3)
