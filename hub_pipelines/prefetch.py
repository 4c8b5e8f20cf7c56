"""Run an iterator ahead in a thread, so Python work overlaps the database's (I/O releases the
GIL): while batch n is written, batch n+1 is fetched or normalized."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Ahead:
    """A producer thread filling a bounded queue from `items`; `get` hands them out in order."""

    def __init__(self, items: Iterable[object], depth: int) -> None:
        self._buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._produce, args=(items,), name="prefetch", daemon=True
        )
        self._thread.start()

    def _put(self, value: object) -> bool:
        while not self._stop.is_set():
            try:
                self._buffer.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, items: Iterable[object]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
        except BaseException as error:  # handed to the consumer
            self._put(_Failure(error))
            return
        self._put(_DONE)

    def get(self, block: bool = True) -> object:
        """The next item, `_DONE` at the end, or `queue.Empty` when not blocking and none is
        ready; a producer's exception is raised here, at its position."""
        value = self._buffer.get(block=block)
        if isinstance(value, _Failure):
            self._buffer.put(value)  # raised again if asked again
            raise value.error
        if value is _DONE:
            self._buffer.put(value)
        return value

    def close(self) -> None:
        """Stop the producer at its next item."""
        self._stop.set()
        self._thread.join(timeout=5)


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items` in order while a thread produces up to `depth` of them ahead.

    An exception in the producer is raised in the consumer at the same position; when the
    consumer stops early, the producer stops at its next item.
    """
    ahead = _Ahead(items, depth)
    try:
        while (value := ahead.get()) is not _DONE:
            yield value  # type: ignore[misc]
    finally:
        ahead.close()


def prefetched_batches(
    items: Iterable[T], limit: int, weight: Callable[[T], int], depth: int
) -> Iterator[list[T]]:
    """Like `prefetched`, but yield lists: each the next item (waited for) and whatever more
    is already produced, until their total `weight` reaches `limit`.

    A consumer slower than the producer gets larger batches (fewer round trips per item); a
    faster one gets each item as soon as it is there.
    """
    ahead = _Ahead(items, depth)
    try:
        while (first := ahead.get()) is not _DONE:
            batch = [first]
            total = weight(first)  # type: ignore[arg-type]
            while total < limit:
                try:
                    value = ahead.get(block=False)
                except queue.Empty:
                    break
                except BaseException:  # the producer's error: raised by the next get,
                    break  # after what it produced before is handed over
                if value is _DONE:
                    break
                batch.append(value)
                total += weight(value)  # type: ignore[arg-type]
            yield batch  # type: ignore[misc]
    finally:
        ahead.close()
