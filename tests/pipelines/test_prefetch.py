"""prefetched: order, errors at the right place, early stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from hub_pipelines.prefetch import prefetched


def test_yields_everything_in_order_from_another_thread() -> None:
    threads: set[str] = set()

    def produce() -> Iterator[int]:
        for i in range(100):
            threads.add(threading.current_thread().name)
            yield i

    assert list(prefetched(produce(), depth=3)) == list(range(100))
    assert threads == {"prefetch"}


def test_producer_error_arrives_after_the_items_before_it() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 failed")

    seen = []
    with pytest.raises(ValueError, match="page 3 failed"):
        for item in prefetched(produce()):
            seen.append(item)
    assert seen == [1, 2]


def test_consumer_stopping_early_stops_the_producer() -> None:
    produced = []

    def produce() -> Iterator[int]:
        for i in range(10_000):
            produced.append(i)
            yield i

    for item in prefetched(produce(), depth=2):
        if item == 5:
            break
    assert len(produced) < 20
