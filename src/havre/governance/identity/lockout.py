"""Failed sign-ins: a growing delay, then a lock only an administrator (or the operator) lifts.

The delay is a "not before" time stored on the account (2^(n-1) seconds after the n-th
consecutive failure): the server refuses early attempts instead of sleeping, so an attacker
cannot tie up workers. The ``threshold``-th consecutive failure locks the account.
"""

from __future__ import annotations

import datetime as dt

from havre.governance.identity.models import UserRow

MAX_DELAY = dt.timedelta(minutes=15)


def delay_after(failures: int) -> dt.timedelta:
    if failures <= 0:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=2 ** (failures - 1)), MAX_DELAY)


def register_failure(user: UserRow, now: dt.datetime, threshold: int) -> bool:
    """Count one more failure. Returns True when this failure locked the account."""
    user.failed_attempts += 1
    user.not_before = now + delay_after(user.failed_attempts)
    if user.failed_attempts >= threshold and user.locked_at is None:
        user.locked_at = now
        return True
    return False


def clear(user: UserRow) -> None:
    user.failed_attempts = 0
    user.not_before = None
    user.locked_at = None
