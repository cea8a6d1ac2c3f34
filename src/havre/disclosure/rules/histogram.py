"""Histograms: every released bin counts at least ``threshold`` distinct persons."""

from __future__ import annotations

import numpy as np

from havre.disclosure.context import CheckContext
from havre.disclosure.histogram import Histogram
from havre.disclosure.policy import PolicyParams
from havre.disclosure.registry import rule
from havre.disclosure.report import CellFlag, Status


@rule(
    "histogram",
    applies_to=(Histogram,),
    description="each histogram bin counts at least `threshold` persons",
)
def check(output: Histogram, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
    small = output.persons < params.threshold
    reason = f"fewer than {params.threshold} persons in the bin"
    return [CellFlag(int(i), "histogram", Status.FAIL, reason) for i in np.flatnonzero(small)]
