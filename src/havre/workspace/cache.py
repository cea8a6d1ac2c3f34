"""Loaded workspaces kept by the long-lived query service.

Decrypting and loading a workspace costs far more than a typical query, so the service keeps
a few loaded, locked databases, keyed by (project, workspace version, permit version). An
entry is dropped when the project's workspace is refreshed or purged, when a query of the
project is refused (suspension, expiry, closure: the plaintext must not outlive the access),
after ``idle_seconds`` without use, and the least recently used one goes when the cache is
full. The CLI, one process per command, loads the workspace each time.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from havre.workspace.aggregate import FrozenSchema, freeze
from havre.workspace.sandbox import SandboxDatabase

CacheKey = tuple[str, int, int]  # project, workspace version, permit version


@dataclass
class Entry:
    database: SandboxDatabase
    schema: dict[str, dict[str, str]]
    loaded_at: float
    load_seconds: float
    last_used: float = field(default=0.0)

    @functools.cached_property
    def frozen_schema(self) -> FrozenSchema:
        """The schema as the aggregate analysis keys its plans (``aggregate.freeze``)."""
        return freeze(self.schema)


class WorkspaceCache:
    def __init__(self, capacity: int, idle_seconds: float) -> None:
        self.capacity = capacity
        self.idle_seconds = idle_seconds
        self._entries: OrderedDict[CacheKey, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[CacheKey, threading.Lock] = {}

    def get(self, key: CacheKey, load: Callable[[], SandboxDatabase]) -> tuple[Entry, bool]:
        """The entry for ``key``, loaded with ``load`` when absent; and whether it was."""
        self.sweep()
        with self._lock:
            entry = self._hit(key)
            if entry is not None:
                return entry, False
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one load per key; other callers wait for it rather than load twice
            with self._lock:
                entry = self._hit(key)
                if entry is not None:
                    return entry, False
            started = time.perf_counter()
            database = load()
            now = time.monotonic()
            entry = Entry(database, database.schema(), now, time.perf_counter() - started, now)
            with self._lock:
                self._drop_project_versions(key)
                self._entries[key] = entry
                self._loading.pop(key, None)
                while len(self._entries) > self.capacity:
                    _, evicted = self._entries.popitem(last=False)
                    evicted.database.close()
            return entry, True

    def _hit(self, key: CacheKey) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.last_used = time.monotonic()
            self._entries.move_to_end(key)
        return entry

    def _drop_project_versions(self, key: CacheKey) -> None:
        for other in [k for k in self._entries if k[0] == key[0] and k != key]:
            self._entries.pop(other).database.close()

    def evict(self, project_id: str) -> int:
        """Drop every loaded version of a project; returns how many there were."""
        with self._lock:
            keys = [k for k in self._entries if k[0] == project_id]
            for key in keys:
                self._entries.pop(key).database.close()
            return len(keys)

    def sweep(self) -> None:
        """Drop entries idle for longer than ``idle_seconds``."""
        limit = time.monotonic() - self.idle_seconds
        with self._lock:
            for key in [k for k, e in self._entries.items() if e.last_used < limit]:
                self._entries.pop(key).database.close()

    def peek(self, key: CacheKey) -> Entry | None:
        """An entry without touching its use time (for tools that inspect the cache)."""
        with self._lock:
            return self._entries.get(key)

    def keys(self) -> list[CacheKey]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                entry.database.close()
            self._entries.clear()
