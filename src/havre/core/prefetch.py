"""Read ahead in a thread: a producer (an engine's result stream, a database cursor) runs
while the caller works on what it already has. Both sides must release the GIL for this to
pay (DuckDB and Arrow do)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Generator, Iterator
from queue import Empty, Full, Queue
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterator[T], depth: int = 2, *, name: str = "havre-prefetch") -> Generator[T]:
    """Iterate ``items`` in a thread, at most ``depth`` items ahead (bounded memory). An error
    of the producer is raised in the caller; closing the generator stops the producer."""
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put(item, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            queue.put(error)
        finally:
            closer = getattr(items, "close", None)
            if closer is not None:
                closer()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(Empty):
                queue.get(timeout=0.1)
        worker.join()
