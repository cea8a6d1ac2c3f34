"""Survival curves (Kaplan-Meier): each released step must rest on enough events.

A step of the curve at time ``t`` says how many persons had the event at ``t``; a step made
of one event dates one person's event. The protected curve merges consecutive event times
until each released step holds at least ``survival_min_events`` events (the step is drawn at
the last time of the group, where the estimate is exact), drops an unfinished tail, and stops
where fewer than ``threshold`` persons remain at risk. Times are released as given: round or
band them (e.g. to weeks) before building the curve if exact dates are sensitive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from havre.core.errors import DataValidationError
from havre.disclosure.cells import CellKey, FloatArray, IntArray


@dataclass(frozen=True)
class SurvivalCurve:
    output_kind: ClassVar[str] = "survival"

    times: FloatArray  # time of each step
    at_risk: IntArray  # persons at risk just before the step (before its first event time)
    events: IntArray  # events in the step
    survival: FloatArray  # estimated survival just after the step
    label: str | None = None

    def reported_indices(self) -> IntArray:
        return np.arange(len(self.times), dtype=np.int64)

    def key(self, index: int) -> CellKey:
        return (f"{self.times[index]:g}",)

    def is_margin(self, index: int) -> bool:
        return False

    def keys(self, indices: IntArray) -> list[CellKey]:
        return [self.key(int(i)) for i in indices]

    def margins_of(self, indices: IntArray) -> list[bool]:
        return [False] * len(indices)

    def released_values(self) -> FloatArray:
        return self.survival

    def describe(self) -> dict[str, Any]:
        return {"label": self.label, "steps": len(self.times)}

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "time": float(t),
                "at_risk": int(n),
                "events": int(d),
                "survival": float(s),
            }
            for t, n, d, s in zip(self.times, self.at_risk, self.events, self.survival, strict=True)
        ]


def kaplan_meier(times: ArrayLike, events: ArrayLike, label: str | None = None) -> SurvivalCurve:
    """The curve from one row per person: follow-up time and whether it ended in the event."""
    t = np.asarray(times, dtype=np.float64)
    e = np.asarray(events, dtype=bool)
    if t.shape != e.shape or t.ndim != 1:
        raise DataValidationError(
            f"Survival input needs one time and one event flag per person; got {t.shape} times "
            f"and {e.shape} flags"
        )
    bad = int((~np.isfinite(t) | (t < 0)).sum())
    if bad:
        raise DataValidationError(
            f"{bad} follow-up times are missing, infinite or negative",
            hint="drop or fix those persons before building the curve",
        )
    distinct, inverse = np.unique(t, return_inverse=True)
    deaths = np.bincount(inverse, weights=e, minlength=len(distinct)).astype(np.int64)
    leaving = np.bincount(inverse, minlength=len(distinct)).astype(np.int64)
    at_risk = len(t) - np.concatenate([[0], np.cumsum(leaving)[:-1]])
    step = deaths > 0
    survival = np.cumprod(1.0 - deaths[step] / at_risk[step])
    return SurvivalCurve(distinct[step], at_risk[step], deaths[step], survival, label)


def merge_steps(curve: SurvivalCurve, min_events: int, min_at_risk: int) -> SurvivalCurve:
    """The protected curve: steps of at least ``min_events`` events, at risk >= ``min_at_risk``."""
    ends: list[int] = []
    starts: list[int] = []
    pending = 0
    start = 0
    # One pass over the distinct event times (not over persons): greedy merging with reset.
    for i, count in enumerate(curve.events.tolist()):
        if pending == 0:
            start = i
        pending += count
        if pending >= min_events:
            ends.append(i)
            starts.append(start)
            pending = 0
    end_index = np.array(ends, dtype=np.int64)
    start_index = np.array(starts, dtype=np.int64)
    cumulative = np.concatenate([[0], np.cumsum(curve.events)])
    events = cumulative[end_index + 1] - cumulative[start_index]
    at_risk = curve.at_risk[start_index]
    keep = np.cumprod(at_risk >= min_at_risk).astype(bool)
    return SurvivalCurve(
        curve.times[end_index][keep],
        at_risk[keep],
        events[keep],
        curve.survival[end_index][keep],
        curve.label,
    )
