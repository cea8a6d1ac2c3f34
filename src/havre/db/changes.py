"""The governance change counter, and what a process may keep while it stands still.

Triggers (migration 0009) raise ``governance_changes.counter`` in the same transaction as any
change to the governance tables a query reads. Whatever was read from them *after* reading the
counter at ``n`` is still what they hold while the counter reads ``n``: one statement
revalidates it, and a revocation, suspension or new permit shows at the very next read of the
counter. What depends on the clock (expiry, idle time) is not kept: callers check it against
the clock every time.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from sqlalchemy import column, select, table
from sqlalchemy.orm import Session

from havre.db.database import Database

# The tables whose changes raise the counter are listed by migration 0009 (a table a cached
# read depends on must be given the triggers by a migration). Updates of a session's or
# token's last use alone do not raise it: callers recheck the times they kept and take the
# full path when in doubt.
CAPACITY = 4096

# the table as plain SQL names (its model, havre.db.models.GovernanceChangeRow, imports every
# room's models; the rooms that read the counter are imported by some of those)
_TABLE = table("governance_changes", column("id"), column("counter"))
_COUNTER = select(_TABLE.c.counter).where(_TABLE.c.id == 1)

K = TypeVar("K")
V = TypeVar("V")


def counter(session: Session) -> int:
    """The counter as the session's transaction sees it."""
    return int(session.execute(_COUNTER).scalar_one())


def counter_now(db: Database) -> int:
    """The counter now: one statement, outside any unit of work."""
    return int(db.scalar(_COUNTER))


class Kept(Generic[K, V]):
    """Values read at one counter value. Meeting any other value forgets them all."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._counter = -1
        self._values: dict[K, V] = {}

    def get(self, counter: int, key: K) -> V | None:
        with self._lock:
            self._meet(counter)
            return self._values.get(key)

    def put(self, counter: int, key: K, value: V) -> None:
        """``counter``: read *before* the value was (a change between them leaves the value
        newer than the counter says: then the next read of the counter misses, never hits a
        stale value)."""
        with self._lock:
            self._meet(counter)
            if len(self._values) >= self.capacity:
                self._values.clear()
            self._values[key] = value

    def _meet(self, counter: int) -> None:
        if counter != self._counter:
            self._counter = counter
            self._values.clear()
