"""Regression outputs: coefficients may leave only when enough residual degrees of freedom
remain (few residual degrees of freedom let a model reproduce individual observations)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from havre.core.errors import UsageError
from havre.disclosure.cells import CellKey, FloatArray, IntArray


@dataclass(frozen=True)
class Coefficient:
    name: str
    estimate: float
    std_error: float | None = None


@dataclass(frozen=True)
class RegressionOutput:
    output_kind: ClassVar[str] = "regression"

    model: str
    n_observations: int
    residual_dof: int
    coefficients: tuple[Coefficient, ...]

    def __post_init__(self) -> None:
        if not self.coefficients:
            raise UsageError("A regression output needs at least one coefficient")
        if self.n_observations < 0:
            raise UsageError("The number of observations of a regression cannot be negative")

    @classmethod
    def from_fit(
        cls,
        model: str,
        n_observations: int,
        coefficients: Sequence[Coefficient],
        residual_dof: int | None = None,
    ) -> RegressionOutput:
        """Residual degrees of freedom default to observations minus estimated parameters."""
        dof = n_observations - len(coefficients) if residual_dof is None else residual_dof
        return cls(model, n_observations, dof, tuple(coefficients))

    @classmethod
    def from_statsmodels(cls, result: Any, model: str | None = None) -> RegressionOutput:
        """From fitted statsmodels results (``params``, ``bse``, ``nobs``, ``df_resid``)."""
        names = [str(n) for n in getattr(result.params, "index", range(len(result.params)))]
        estimates = np.asarray(result.params, dtype=float)
        errors = np.asarray(result.bse, dtype=float)
        coefficients = [
            Coefficient(n, float(e), float(s))
            for n, e, s in zip(names, estimates, errors, strict=True)
        ]
        return cls(
            model or type(result.model).__name__,
            int(result.nobs),
            int(result.df_resid),
            tuple(coefficients),
        )

    def reported_indices(self) -> IntArray:
        return np.arange(len(self.coefficients), dtype=np.int64)

    def key(self, index: int) -> CellKey:
        return (self.coefficients[index].name,)

    def is_margin(self, index: int) -> bool:
        return False

    def keys(self, indices: IntArray) -> list[CellKey]:
        return [self.key(int(i)) for i in indices]

    def margins_of(self, indices: IntArray) -> list[bool]:
        return [False] * len(indices)

    def released_values(self) -> FloatArray:
        return np.array([c.estimate for c in self.coefficients], dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n_observations": self.n_observations,
            "residual_dof": self.residual_dof,
        }
