"""Reading ahead in a thread keeps order, hands errors over and stops when closed."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

from havre.core.prefetch import prefetch


def test_items_come_in_order() -> None:
    assert list(prefetch(iter(range(1000)), depth=3)) == list(range(1000))


def test_an_error_of_the_producer_is_raised_in_the_caller() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("broken stream")

    seen = []
    with pytest.raises(ValueError, match="broken stream"):
        for item in prefetch(failing()):
            seen.append(item)
    assert seen == [1]


def test_closing_early_stops_the_producer_and_closes_its_source() -> None:
    produced = []
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    with contextlib.closing(prefetch(endless(), depth=2)) as ahead:
        assert [next(ahead) for _ in range(5)] == [0, 1, 2, 3, 4]
    assert closed.is_set()
    assert len(produced) <= 5 + 2 + 1  # never more than depth ahead (and one in hand)
    assert not [t for t in threading.enumerate() if t.name == "havre-prefetch"]
