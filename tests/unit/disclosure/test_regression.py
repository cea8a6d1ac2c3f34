"""Regression outputs: residual degrees of freedom."""

from __future__ import annotations

import numpy as np

from havre.disclosure.check import check_regression
from havre.disclosure.policy import Policy
from havre.disclosure.regression import Coefficient, RegressionOutput


def test_too_few_residual_degrees_of_freedom_fail() -> None:
    coefficients = [Coefficient("const", 1.0, 0.1), Coefficient("age", 0.2, 0.05)]
    tight = RegressionOutput.from_fit("ols", 11, coefficients)
    assert tight.residual_dof == 9
    report = check_regression(tight, Policy())
    assert report.status.value == "fail"
    assert report.failed("dof") == [("const",), ("age",)]
    assert all(c.value is None for c in report.cells)
    loose = RegressionOutput.from_fit("ols", 12, coefficients)
    report = check_regression(loose, Policy())
    assert report.status.value == "pass"
    assert report.cell(("age",)).value == 0.2


def test_from_statsmodels() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(2)
    x = rng.normal(size=30)
    y = 2 * x + rng.normal(size=30)
    fitted = sm.OLS(y, sm.add_constant(x)).fit()
    output = RegressionOutput.from_statsmodels(fitted, "ols")
    assert output.n_observations == 30 and output.residual_dof == 28
    assert check_regression(output, Policy()).status.value == "pass"
    assert check_regression(output, Policy().with_params(min_dof=29)).status.value == "fail"
