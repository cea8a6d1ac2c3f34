"""Kaplan-Meier curves: each released step rests on enough events and persons at risk."""

from __future__ import annotations

import numpy as np
import pytest

from havre.core.errors import DataValidationError
from havre.disclosure.check import check_survival
from havre.disclosure.policy import Policy
from havre.disclosure.survival import kaplan_meier, merge_steps


def test_kaplan_meier_by_hand() -> None:
    # times 1, 2, 2, 3(censored), 4: S(1)=4/5, S(2)=4/5*1/4... computed step by step
    curve = kaplan_meier([1, 2, 2, 3, 4], [True, True, True, False, True])
    assert curve.times.tolist() == [1.0, 2.0, 4.0]
    assert curve.at_risk.tolist() == [5, 4, 1]
    assert curve.events.tolist() == [1, 2, 1]
    assert curve.survival.tolist() == pytest.approx([0.8, 0.8 * 0.5, 0.0])


def test_small_steps_fail_and_the_released_curve_is_merged() -> None:
    rng = np.random.default_rng(11)
    n = 400
    times = np.round(rng.exponential(100, n))
    events = rng.random(n) < 0.7
    curve = kaplan_meier(times, events)
    result = check_survival(curve, Policy())
    assert result.report.status.value == "fail"
    assert set(result.report.flagged("survival"))
    released = result.released
    assert (released.events >= 10).all()
    assert (released.at_risk >= 10).all()
    assert result.released_report.status.value == "pass"
    # A released step shows the exact estimate at its time.
    lookup = dict(zip(curve.times.tolist(), curve.survival.tolist(), strict=True))
    for t, s in zip(released.times.tolist(), released.survival.tolist(), strict=True):
        assert s == lookup[t]
    # Events of merged steps add up to those of the original steps up to the last release.
    last = released.times[-1]
    assert released.events.sum() == curve.events[curve.times <= last].sum()


def test_merging_respects_a_configured_number_of_events() -> None:
    curve = kaplan_meier(np.arange(1, 61), np.ones(60, dtype=bool))
    merged = merge_steps(curve, min_events=11, min_at_risk=1)
    assert (merged.events >= 11).all()
    assert merged.events.sum() == 55  # the unfinished tail is dropped


def test_invalid_times_are_refused() -> None:
    with pytest.raises(DataValidationError, match="negative"):
        kaplan_meier([1.0, -2.0], [True, False])
    with pytest.raises(DataValidationError):
        kaplan_meier([1.0, 2.0], [True])
