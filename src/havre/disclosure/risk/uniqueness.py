"""Population uniqueness: how many people are unique in the population, seen from a sample.

Three published estimators work on the class-size histogram of the sample and the sampling
fraction, and Dankar et al.'s decision rule picks one, as ARX does
(``RiskModelPopulationUniqueness``):

- Zayatz (1991): the share of sample uniques that are population uniques, from
  hypergeometric draws of the sample's class-size distribution;
- Pitman: maximum-likelihood fit of the Pitman sampling formula (Hoshino 2001), then the
  expected number of singletons in a population of size N;
- SNB: the slide negative binomial model of Chen & McNulty (1998), population class sizes
  minus one negative-binomial, fitted on the numbers of sample classes of size 1 and 2,
  with Shlosser's estimate of the number of non-empty population classes (Haas et al. 1995);
- Dankar et al. (2012): Pitman when the sampling fraction is at most 10 %, else the smaller of
  Zayatz and SNB; Zayatz when the chosen model does not converge (and, should Zayatz fail
  too, the cautious bound "every sample unique is a population unique").

Every estimator returns a count of population uniques, or None when it has no valid solution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special  # type: ignore[import-untyped]
from scipy.stats import hypergeom  # type: ignore[import-untyped]

from havre.disclosure.risk.model import ClassHistogram

DANKAR_SMALL_FRACTION = 0.1


@dataclass(frozen=True)
class SampleShape:
    sizes: NDArray[np.float64]  # distinct class sizes in the sample
    counts: NDArray[np.float64]  # number of classes of each size
    records: int  # n
    population: int  # N

    @classmethod
    def of(cls, histogram: ClassHistogram, population: int) -> SampleShape:
        return cls(
            np.asarray(histogram.sizes, dtype=np.float64),
            np.asarray(histogram.counts, dtype=np.float64),
            histogram.records,
            population,
        )

    @property
    def fraction(self) -> float:
        return self.records / self.population

    @property
    def classes(self) -> float:
        return float(self.counts.sum())

    def of_size(self, size: int) -> float:
        return float(self.counts[self.sizes == size].sum())


def _valid(estimate: float, population: int) -> float | None:
    if math.isfinite(estimate) and 0.0 <= estimate <= population:
        return estimate
    return None


def zayatz(shape: SampleShape) -> float | None:
    uniques = shape.of_size(1)
    if uniques == 0:
        return 0.0
    # P(a class of size i in the population shows exactly one record in the sample)
    one_drawn = hypergeom.pmf(1, shape.population, shape.sizes, shape.records)
    weights = shape.counts / shape.classes
    denominator = float(np.dot(weights, one_drawn))
    if denominator <= 0.0:
        return None
    conditional = (uniques / shape.classes) * float(one_drawn[shape.sizes == 1][0]) / denominator
    return _valid(uniques * conditional / shape.fraction, shape.population)


def _pitman_negative_loglik(
    params: NDArray[np.float64], shape: SampleShape
) -> tuple[float, NDArray[np.float64]]:
    """Minus the log-likelihood of the Pitman sampling formula, on an unconstrained scale.

    alpha = expit(a) in (0, 1) and theta = -alpha + exp(b) > -alpha.
    """
    a, b = float(params[0]), float(params[1])
    alpha = float(special.expit(a))
    theta = -alpha + math.exp(b)
    u, n = shape.classes, float(shape.records)
    ratio = theta / alpha
    loglik = (
        (u - 1) * math.log(alpha)
        + special.gammaln(ratio + u)
        - special.gammaln(ratio + 1)
        - (special.gammaln(theta + n) - special.gammaln(theta + 1))
        + float(
            np.dot(shape.counts, special.gammaln(shape.sizes - alpha) - special.gammaln(1 - alpha))
        )
    )
    psi_gap = special.digamma(ratio + u) - special.digamma(ratio + 1)
    d_theta = psi_gap / alpha - (special.digamma(theta + n) - special.digamma(theta + 1))
    d_alpha = (
        (u - 1) / alpha
        - theta / alpha**2 * psi_gap
        - float(
            np.dot(shape.counts, special.digamma(shape.sizes - alpha) - special.digamma(1 - alpha))
        )
    )
    slope = alpha * (1 - alpha)
    gradient = np.array([slope * (d_alpha - d_theta), d_theta * math.exp(b)])
    return -float(loglik), -gradient


# On the unconstrained scale: alpha within 2e-9 of (0, 1), theta + alpha in (2e-9, 1e13).
_PITMAN_BOUNDS = ((-20.0, 20.0), (-20.0, 30.0))


def _pitman_start(shape: SampleShape) -> list[tuple[float, float]]:
    """Starting points: Hoshino's moment estimates (as ARX), then generic ones."""
    starts = [(0.5, 1.0), (0.2, 10.0), (0.8, 0.5)]
    c1, c2 = shape.of_size(1), max(shape.of_size(2), 1.0)
    u, n = shape.classes, float(shape.records)
    c = c1 * (c1 - 1) / c2
    denominator = 2 * c1 * u + c1 * c - n * c
    if denominator != 0:
        theta = (n * u * c - c1 * (n - 1) * (2 * u + c)) / denominator
        alpha = (theta * (c1 - n) + (n - 1) * c1) / (n * u)
        if 0 < alpha < 1 and theta > -alpha:
            starts.insert(0, (alpha, theta))
    return starts


def _solution(x: NDArray[np.float64]) -> tuple[float, float] | None:
    """(theta, alpha) of a fit, None when it ran to a degenerate edge of the model.

    alpha at 0 is Ewens' model, the limit of Pitman's (its estimate tends to theta): kept.
    alpha at 1 or theta running away means every class is a singleton: no estimate.
    """
    if not bool(np.all(np.isfinite(x))):
        return None
    alpha = float(special.expit(x[0]))
    theta = -alpha + math.exp(float(x[1]))
    if alpha >= 1 - 1e-6 or theta > 1e12:
        return None
    return theta, alpha


def pitman_parameters(shape: SampleShape) -> tuple[float, float] | None:
    """(theta, alpha) maximizing the Pitman likelihood, or None when the fit degenerates."""
    for alpha, theta in _pitman_start(shape):
        x0 = np.array([float(special.logit(alpha)), math.log(theta + alpha)])
        with np.errstate(all="ignore"):
            result = optimize.minimize(
                _pitman_negative_loglik,
                x0,
                args=(shape,),
                jac=True,
                # TNC, not L-BFGS-B: L-BFGS-B calls LAPACK, whose threads stall for
                # milliseconds per call when the engine's threads hold the cores.
                method="TNC",
                bounds=_PITMAN_BOUNDS,
                options={"maxfun": 2000, "ftol": 1e-14, "xtol": 1e-12},
            )
        solution = _solution(result.x) if math.isfinite(result.fun) else None
        if solution is not None:
            return solution
    return None


def pitman(shape: SampleShape) -> float | None:
    if shape.of_size(1) == 0:
        return 0.0
    parameters = pitman_parameters(shape)
    if parameters is None:
        return None
    theta, alpha = parameters
    log_uniques = (
        special.gammaln(theta + 1)
        - special.gammaln(theta + alpha)
        + alpha * math.log(shape.population)
    )
    return _valid(math.exp(log_uniques), shape.population)


def shlosser_classes(shape: SampleShape) -> float:
    """Shlosser's estimate of the number of distinct classes in the population."""
    p, q = shape.fraction, 1.0 - shape.fraction
    numerator = float(np.dot(q**shape.sizes, shape.counts))
    denominator = float(np.dot(shape.sizes * p * q ** (shape.sizes - 1), shape.counts))
    if denominator <= 0:
        return shape.classes
    return shape.classes + shape.of_size(1) * numerator / denominator


def snb_sample_class_probabilities(
    alpha: float, beta: float, fraction: float
) -> tuple[float, float]:
    """P(a population class shows 1, resp. 2, records in the sample) under the SNB model."""
    d = (1 - fraction) * (1 - beta)
    one = fraction * (beta / (1 - d)) ** alpha * (1 + alpha * d / (1 - d))
    two = (
        fraction**2
        / 2
        * alpha
        * beta**alpha
        * (1 - beta)
        * (1 - d) ** (-(alpha + 2))
        * (2 - (1 - alpha) * d)
    )
    return one, two


def snb(shape: SampleShape) -> float | None:
    c1, c2 = shape.of_size(1), shape.of_size(2)
    if c1 == 0:
        return 0.0
    if c2 == 0 or shape.fraction >= 1.0:
        return None
    classes = shlosser_classes(shape)
    fraction = shape.fraction

    def residuals(x: NDArray[np.float64]) -> NDArray[np.float64]:
        alpha, beta = math.exp(float(x[0])), float(special.expit(x[1]))
        one, two = snb_sample_class_probabilities(alpha, beta, fraction)
        if one <= 0 or two <= 0 or not (math.isfinite(one) and math.isfinite(two)):
            return np.array([1e6, 1e6])
        return np.array([math.log(classes * one / c1), math.log(classes * two / c2)])

    for alpha0, beta0 in ((1.0, 0.5), (0.1, 0.1), (5.0, 0.9), (0.5, 0.01)):
        x0 = np.array([math.log(alpha0), float(special.logit(beta0))])
        with np.errstate(all="ignore"):
            # Levenberg-Marquardt (MINPACK) needs no LAPACK, see pitman_parameters.
            result = optimize.least_squares(
                residuals, x0, method="lm", xtol=1e-14, ftol=1e-14, gtol=1e-14
            )
        if result.success and float(np.max(np.abs(result.fun))) < 1e-6:
            alpha, beta = math.exp(float(result.x[0])), float(special.expit(result.x[1]))
            return _valid(classes * beta**alpha, shape.population)
    return None


def dankar(shape: SampleShape) -> tuple[float, str, dict[str, float | None]]:
    """(population uniques, model chosen, every estimate) by Dankar et al.'s rule."""
    if shape.of_size(1) == 0:
        return 0.0, "none", {"zayatz": 0.0, "pitman": 0.0, "snb": 0.0}
    estimates: dict[str, float | None] = {
        "zayatz": zayatz(shape),
        "pitman": pitman(shape),
        "snb": snb(shape),
    }
    zayatz_estimate, pitman_estimate, snb_estimate = (
        estimates["zayatz"],
        estimates["pitman"],
        estimates["snb"],
    )
    if shape.fraction <= DANKAR_SMALL_FRACTION and pitman_estimate is not None:
        return pitman_estimate, "pitman", estimates
    if shape.fraction > DANKAR_SMALL_FRACTION and snb_estimate is not None:
        if zayatz_estimate is not None and zayatz_estimate < snb_estimate:
            return zayatz_estimate, "zayatz", estimates
        return snb_estimate, "snb", estimates
    if zayatz_estimate is not None:
        return zayatz_estimate, "zayatz", estimates
    # No model fits: assume every sample unique is a population unique, scaled up.
    bound = min(shape.of_size(1) / shape.fraction, float(shape.population))
    return bound, "upper_bound", estimates
