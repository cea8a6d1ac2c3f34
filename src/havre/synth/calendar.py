"""Dates as int32 days since 1970-01-01 (Arrow's date32), with vectorized helpers."""

from __future__ import annotations

import datetime as dt

import numpy as np

from havre.synth.arrays import Array

EPOCH = dt.date(1970, 1, 1)
NEVER = np.iinfo(np.int32).max
"""A date that never comes (no death, no event)."""


def day(date: dt.date) -> int:
    return (date - EPOCH).days


def date_of(days: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(days))


def year_start(year: int) -> int:
    return day(dt.date(year, 1, 1))


def year_of(days: Array) -> Array:
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def month_of(days: Array) -> Array:
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months % 12 + 1


def age_at(birth: Array, when: Array | int) -> Array:
    """Completed years of age on a day (birthdays counted exactly)."""
    birth_d = birth.astype("datetime64[D]")
    when_d = np.asarray(when).astype("datetime64[D]")
    years = when_d.astype("datetime64[Y]").astype(np.int64) - birth_d.astype(
        "datetime64[Y]"
    ).astype(np.int64)
    birth_day_of_year = birth_d - birth_d.astype("datetime64[Y]")
    when_day_of_year = when_d - when_d.astype("datetime64[Y]")
    return np.asarray(years - (when_day_of_year < birth_day_of_year))


def uniform_days(rng: np.random.Generator, low: Array, high: Array) -> Array:
    """A day drawn uniformly in [low, high] (inclusive) for each pair; high >= low."""
    span = (high.astype(np.int64) - low.astype(np.int64) + 1).clip(min=1)
    drawn = low + np.floor(rng.random(len(span)) * span).astype(np.int64)
    return np.asarray(drawn, dtype=np.int32)
