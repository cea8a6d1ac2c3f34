"""Survival curves: a step is released only after at least ``survival_min_events`` events, and
only while at least ``threshold`` persons are at risk."""

from __future__ import annotations

import numpy as np

from havre.disclosure.context import CheckContext
from havre.disclosure.policy import PolicyParams
from havre.disclosure.registry import rule
from havre.disclosure.report import CellFlag, Status
from havre.disclosure.survival import SurvivalCurve


@rule(
    "survival",
    applies_to=(SurvivalCurve,),
    description="each survival step has enough events and enough persons at risk",
)
def check(curve: SurvivalCurve, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    needed = params.survival_events
    few_events = f"fewer than {needed} events in the step"
    few_at_risk = f"fewer than {params.threshold} persons at risk"
    flags = [
        CellFlag(int(i), "survival", Status.FAIL, few_events)
        for i in np.flatnonzero(curve.events < needed)
    ]
    flags += [
        CellFlag(int(i), "survival", Status.FAIL, few_at_risk)
        for i in np.flatnonzero(curve.at_risk < params.threshold)
    ]
    return flags
