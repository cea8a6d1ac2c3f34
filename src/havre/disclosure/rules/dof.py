"""Degrees of freedom: a regression with fewer than ``min_dof`` residual degrees of freedom
is too close to its data to release."""

from __future__ import annotations

from havre.disclosure.context import CheckContext
from havre.disclosure.policy import PolicyParams
from havre.disclosure.registry import rule
from havre.disclosure.regression import RegressionOutput
from havre.disclosure.report import CellFlag, Status


@rule(
    "dof",
    applies_to=(RegressionOutput,),
    description="regressions keep at least min_dof residual degrees of freedom",
)
def check(output: RegressionOutput, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    if output.residual_dof >= params.min_dof:
        return []
    reason = f"fewer than {params.min_dof} residual degrees of freedom"
    return [CellFlag(int(i), "dof", Status.FAIL, reason) for i in output.reported_indices()]
