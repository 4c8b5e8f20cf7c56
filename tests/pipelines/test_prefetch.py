"""prefetched: order, errors at the right place, early stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from hub_pipelines.prefetch import prefetched, prefetched_batches


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


def test_batches_gather_what_is_ready_up_to_the_limit_and_keep_the_order() -> None:
    ready = threading.Event()

    def produce() -> Iterator[list[int]]:
        for i in range(12):
            yield [i, i]  # weight 2
        ready.set()

    batches = prefetched_batches(produce(), limit=5, weight=len, depth=20)
    first = next(batches)  # the first item, and whatever was ready with it
    ready.wait(5)
    rest = list(batches)
    assert [item for batch in [first, *rest] for item in batch] == [[i, i] for i in range(12)]
    # once the producer is ahead, a batch stops at the item that reaches the limit
    assert all(sum(map(len, batch)) <= 6 for batch in rest)
    assert max(len(batch) for batch in rest) == 3


def test_batches_hand_over_what_came_before_a_producer_error() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 failed")

    seen: list[int] = []
    with pytest.raises(ValueError, match="page 3 failed"):
        for batch in prefetched_batches(produce(), limit=100, weight=lambda _: 1, depth=5):
            seen.extend(batch)
    assert seen == [1, 2]
