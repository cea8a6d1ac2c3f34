"""Population uniqueness estimators against synthetic populations whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from havre.disclosure.risk.model import ClassHistogram
from havre.disclosure.risk.uniqueness import (
    SampleShape,
    dankar,
    pitman,
    pitman_parameters,
    shlosser_classes,
    snb,
    snb_sample_class_probabilities,
    zayatz,
)


def histogram(class_sizes: NDArray[np.int64]) -> ClassHistogram:
    sizes, counts = np.unique(class_sizes[class_sizes > 0], return_counts=True)
    return ClassHistogram(tuple(int(s) for s in sizes), tuple(int(c) for c in counts))


def chinese_restaurant(seed: int, size: int, alpha: float, theta: float) -> NDArray[np.int64]:
    """Class sizes of a population drawn from the Pitman sampling formula (test data only)."""
    rng = np.random.default_rng(seed)
    counts: list[int] = []
    labels = np.empty(size, dtype=np.int64)
    opens = rng.random(size)
    for i in range(size):
        if opens[i] < (theta + len(counts) * alpha) / (i + theta):
            labels[i] = len(counts)
            counts.append(1)
            continue
        while True:  # pick a person, keep their class with probability (n_j - alpha) / n_j
            j = labels[rng.integers(0, i)]
            if rng.random() < (counts[j] - alpha) / counts[j]:
                break
        labels[i] = j
        counts[j] += 1
    return np.array(counts, dtype=np.int64)


def census_like(seed: int, size: int) -> NDArray[np.int64]:
    """Class sizes of birth year x sex x département, départements of Zipf-like sizes."""
    rng = np.random.default_rng(seed)
    year = np.clip(rng.normal(1970, 18, size).astype(np.int64), 1910, 2020) - 1910
    sex = rng.integers(0, 2, size)
    weights = 1.0 / np.arange(1, 101) ** 1.1
    departement = rng.choice(100, size, p=weights / weights.sum())
    return np.bincount((year * 2 + sex) * 100 + departement)


def sample(population: NDArray[np.int64], fraction: float, seed: int) -> SampleShape:
    rng = np.random.default_rng(seed)
    total = int(population.sum())
    drawn = rng.multivariate_hypergeometric(population, round(total * fraction))
    return SampleShape.of(histogram(drawn), total)


@pytest.fixture(scope="module")
def pitman_population() -> NDArray[np.int64]:
    return chinese_restaurant(seed=1, size=60_000, alpha=0.5, theta=30.0)


@pytest.mark.parametrize(
    ("fraction", "tolerance"), [(0.05, 0.3), (0.1, 0.3), (0.2, 0.15), (0.5, 0.1)]
)
def test_dankar_on_a_pitman_population(
    pitman_population: NDArray[np.int64], fraction: float, tolerance: float
) -> None:
    truth = int((pitman_population == 1).sum())
    shape = sample(pitman_population, fraction, seed=2)
    estimate, model, estimates = dankar(shape)
    assert model == "pitman" if fraction <= 0.1 else model in {"snb", "zayatz"}
    assert estimate == pytest.approx(truth, rel=tolerance)
    assert set(estimates) == {"zayatz", "pitman", "snb"}


def test_pitman_recovers_its_parameters(pitman_population: NDArray[np.int64]) -> None:
    parameters = pitman_parameters(sample(pitman_population, 0.2, seed=3))
    assert parameters is not None
    theta, alpha = parameters
    assert alpha == pytest.approx(0.5, abs=0.1)
    assert theta == pytest.approx(30.0, rel=0.6)


def test_census_like_population() -> None:
    population = census_like(seed=4, size=200_000)
    truth = int((population == 1).sum())
    half = sample(population, 0.5, seed=5)
    estimate, model, _ = dankar(half)
    assert model in {"snb", "zayatz"}
    assert estimate == pytest.approx(truth, rel=0.15)
    assert zayatz(half) == pytest.approx(truth, rel=0.25)
    # a small sample of a population far from the models' assumptions: the estimate errs
    # on the side of caution (more uniques than there are), never below the truth
    small_estimate, _, _ = dankar(sample(population, 0.05, seed=6))
    assert small_estimate > truth


def test_no_sample_uniques_means_no_population_uniques() -> None:
    shape = SampleShape.of(ClassHistogram((2, 5), (10, 3)), 1000)
    assert zayatz(shape) == pitman(shape) == snb(shape) == 0.0
    assert dankar(shape) == (0.0, "none", {"zayatz": 0.0, "pitman": 0.0, "snb": 0.0})


def test_snb_needs_classes_of_size_two() -> None:
    assert snb(SampleShape.of(ClassHistogram((1, 3), (5, 2)), 1000)) is None


def test_all_unique_sample_falls_back_to_zayatz() -> None:
    shape = SampleShape.of(ClassHistogram((1,), (100,)), 10_000)
    estimate, model, estimates = dankar(shape)
    assert estimates["pitman"] is None  # no finite maximum when every record is unique
    assert model == "zayatz"
    assert estimate == estimates["zayatz"]
    assert 0 < estimate <= 10_000


def test_snb_class_probabilities_match_direct_sums() -> None:
    from scipy import stats  # type: ignore[import-untyped]

    alpha, beta, fraction = 1.7, 0.3, 0.2
    extra = np.arange(0, 3000)
    weights = stats.nbinom.pmf(extra, alpha, beta)  # P(F - 1 = m)
    one = float(np.sum(weights * stats.binom.pmf(1, extra + 1, fraction)))
    two = float(np.sum(weights * stats.binom.pmf(2, extra + 1, fraction)))
    assert snb_sample_class_probabilities(alpha, beta, fraction) == pytest.approx((one, two))


def test_shlosser_adds_unseen_classes() -> None:
    shape = SampleShape.of(ClassHistogram((1, 2), (50, 10)), 10_000)
    assert shlosser_classes(shape) > shape.classes
