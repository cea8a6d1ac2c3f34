"""Writes a process hands to one thread of its own, so that they do not hold up the caller.

A workspace query writes its start entry here while it runs, and its outcome entry once its
result is on its way back (docs/workspace.md, "What the audit log keeps of a query"). The
writes run one at a time, in the order given. Every outermost unit of work the process opens
afterwards on another thread (``Database.transaction``, ``reading``, ``plain_transaction``,
``connect``) first waits until the writes given so far are done: a process always reads its
own writes, and entries keep their order in the audit log. A unit opened inside another does
not wait: a pending write may be waiting for a lock the outer one holds.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Background:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = os.getpid()
        self._last: Future[Any] | None = None
        self._thread: int | None = None

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Run ``job`` on the writing thread after what was given before; its result or its
        error is the future's (a job nobody waits for handles its own errors)."""
        with self._lock:
            if self._executor is None or self._pid != os.getpid():  # none yet, or forked
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="havre-writer", initializer=self._mark
                )
                self._pid, self._last = os.getpid(), None
            future = self._executor.submit(job)
            self._last = future
        return future

    def settle(self) -> None:
        """Wait until every write given so far is done (at once on the writing thread, or
        when there is none)."""
        last = self._last
        if last is None or last.done() or threading.get_ident() == self._thread:
            return
        if self._pid != os.getpid():  # a forked child: the parent's thread is not here
            return
        concurrent.futures.wait([last])

    def close(self) -> None:
        """Finish the writes given so far and stop the thread (a later write starts one)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None and self._pid == os.getpid():
            executor.shutdown(wait=True)

    def _mark(self) -> None:
        self._thread = threading.get_ident()
