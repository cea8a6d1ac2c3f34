"""Re-identification risks computed from the class-size histogram (vectorized over sizes).

Definitions follow El Emam, *Guide to the De-Identification of Personal Health Information*
(2013), as implemented by ARX (``RiskModelSampleSummary``): for each attacker, the highest
risk of a record, the average risk (share of records re-identified on average) and the share
of records whose risk exceeds a threshold. See docs/risk.md.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from havre.disclosure.risk.model import ClassHistogram, RiskSummary


def _arrays(histogram: ClassHistogram) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return np.asarray(histogram.sizes, dtype=np.float64), np.asarray(
        histogram.counts, dtype=np.float64
    )


def unique_share(histogram: ClassHistogram) -> float:
    """Sample uniqueness: the share of records alone in their class."""
    records = histogram.records
    return histogram.classes_of_size(1) / records if records else 0.0


def prosecutor_risk(histogram: ClassHistogram, threshold: float) -> RiskSummary:
    """The attacker knows the target is in the extract: a record's risk is 1 / its class size."""
    if not histogram.records:
        return RiskSummary(0.0, 0.0, 0.0)
    sizes, counts = _arrays(histogram)
    records = float(np.dot(sizes, counts))
    at_risk = float(np.dot(sizes, counts * (1.0 / sizes > threshold)))
    return RiskSummary(
        highest=1.0 / float(sizes.min()),
        average=float(counts.sum()) / records,
        records_at_risk=at_risk / records,
    )


def expected_inverse_population_size(
    sizes: NDArray[np.float64], fraction: float
) -> NDArray[np.float64]:
    """E[1/F | f] for a class of sample size f drawn with sampling fraction p.

    The individual-risk model of Benedetti & Franconi (1998), used by mu-Argus and sdcMicro:
    F - f follows a negative binomial NB(f, p), which gives
    E[1/F | f] = (p / f) 2F1(1, 1; f + 1; 1 - p) = p * I(f),  I(f) = int_0^1 u^(f-1) / (p + q u) du
    with q = 1 - p. SciPy's hyp2f1 overflows for large f near q = 1, so I(f) is computed from
    the series sum_k q^k (f-1)! k! / (f+k)!  (fast when q <= 1/2 or f is large), else by the
    recursion q I(f+1) = 1/f - p I(f) from I(1) = ln(1/p) / q, stable because p/q < 1.
    """
    if fraction >= 1.0:
        return 1.0 / sizes
    p, q = fraction, 1.0 - fraction
    result = np.empty_like(sizes, dtype=np.float64)
    by_series = (sizes >= _SERIES_FROM) | (q <= 0.5)
    if by_series.any():
        f = sizes[by_series]
        term = 1.0 / f
        total = term.copy()
        for k in range(_SERIES_TERMS):
            term = term * q * (k + 1) / (f + k + 1)
            total += term
        result[by_series] = p * total
    small = ~by_series
    if small.any():
        integrals = [math.log(1.0 / p) / q]
        for f_value in range(1, _SERIES_FROM):
            integrals.append((1.0 / f_value - p * integrals[-1]) / q)
        result[small] = p * np.asarray(integrals)[sizes[small].astype(np.int64) - 1]
    return result


_SERIES_FROM = 50  # from this class size the series converges within _SERIES_TERMS terms
_SERIES_TERMS = 400


def sampled_risks(
    histogram: ClassHistogram, fraction: float, threshold: float
) -> tuple[RiskSummary, float]:
    """Journalist and marketer risk when the extract is a sample of the population.

    Population class sizes are unknown; each class's 1/F is replaced by its expectation
    given the sample size (``expected_inverse_population_size``) and sum F by n / p.
    """
    if not histogram.records:
        return RiskSummary(0.0, 0.0, 0.0), 0.0
    sizes, counts = _arrays(histogram)
    records = float(np.dot(sizes, counts))
    rho = expected_inverse_population_size(sizes, fraction)
    marketer = float(np.dot(counts * sizes, rho)) / records
    at_risk = float(np.dot(sizes * counts, rho > threshold)) / records
    average = max(float(counts.sum()) * fraction / records, marketer)
    return RiskSummary(float(rho.max()), average, at_risk), marketer


def whole_population_risks(
    histogram: ClassHistogram, threshold: float
) -> tuple[RiskSummary, float]:
    """When the extract is the whole population, journalist = prosecutor, marketer = classes/n."""
    prosecutor = prosecutor_risk(histogram, threshold)
    return prosecutor, prosecutor.average
