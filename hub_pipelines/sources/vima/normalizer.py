"""A Vima run's normalizer in a process of its own: the landed operations' JSON goes in, their
transactions are upserted there, and the report comes back.

A Vima run's Python holds the GIL for nearly all of its time (fetching, landing, normalizing
and COPYing the transactions); normalizing and the transactions' COPY are about half of it, and
in a second process they run on the machine's other core instead of waiting for the GIL.

The two processes talk over a socket pair (`multiprocessing.connection` framing): the parent
sends the database URL first (never on a command line, where `ps` shows it), then one frame
per landed batch (the operations' canonical JSON, pickled as a list of bytes), then an empty
frame for the end; the child answers once, with its `NormalizeReport` or its error. The child
dies with its parent (Linux: `PR_SET_PDEATHSIG`; elsewhere the closed socket ends it at its
next read), so a killed run leaves no writer behind: every batch it sent was landed first, and
the partition's `normalized` marker, set only once the child has answered, tells the next run to
normalize from raw.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import orjson

from hub_core.db import get_engine
from hub_core.types import MalformedRecord, Transaction
from hub_pipelines.ingesting import few_collections
from hub_pipelines.normalizing import NormalizeReport, normalize_into_transactions
from hub_pipelines.sources.vima.landing import Encoded
from hub_pipelines.sources.vima.normalize import STATUSES, normalize_operation
from hub_pipelines.warehouse.rows import optional_time
from hub_pipelines.windows import PartitionWindow

_END = b""
WRITE_BATCH = 2000
"""Transactions per write (one COPY and commit): 1,000 took ~10 % longer for a 200,000-operation
day; larger ones hold more memory."""
AHEAD_BATCHES = 1
"""Batches normalized while the one before is written (each ~6 MB for 2,000 operations)."""


class NormalizerError(Exception):
    """The normalizer process failed, or died, before it answered."""


class NormalizerProcess:
    """The parent's side: start the child, hand it each landed batch, collect its report."""

    def __init__(self, url: str, window: PartitionWindow) -> None:
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(  # noqa: S603 - our own module, our interpreter
            [sys.executable, "-m", __name__, str(theirs.fileno()), str(os.getpid())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send((url, window))

    def put(self, batch: list[Encoded]) -> None:
        """Hand a landed batch (committed) to the child; blocks while the child is behind."""
        if not batch:
            return
        try:
            self._conn.send_bytes(pickle.dumps([payload for _, payload in batch], protocol=5))
        except OSError:  # the child has stopped: its answer says why
            self.finish()
            raise NormalizerError("the Vima normalizer stopped early") from None

    def finish(self) -> NormalizeReport:
        """Tell the child there is no more, wait for its report; raise its error."""
        with contextlib.suppress(OSError):  # stopped already: its answer is waiting
            self._conn.send_bytes(_END)
        try:
            outcome, value = self._conn.recv()
        except (EOFError, OSError):
            code = self._process.wait()
            raise NormalizerError(f"the Vima normalizer died (exit code {code})") from None
        finally:
            self._conn.close()
            self._process.wait()
        if outcome == "error":
            raise value
        return value

    def kill(self) -> None:
        """Stop the child now (its open transaction rolls back)."""
        self._process.kill()
        self._process.wait()
        self._conn.close()


def normalize_landed(landed: Encoded, window: PartitionWindow) -> Transaction | None:
    """An operation as landed, its `raw_data` the JSON the landing encoded (not encoded twice);
    None when it is not the partition's (an operation of a neighbouring day: the provider's
    dates are whole UTC days). The window is checked on the parsed creation time, and for a
    malformed operation as the raw table counts it (`_in_window`), so the outcome is what a
    pass from raw gives."""
    op, payload = landed
    try:
        txn = normalize_operation(op, raw_json=payload)
    except MalformedRecord:
        if _in_window(op, window):
            raise
        return None
    return txn if window.contains(txn.created_at) else None


def _in_window(op: dict[str, Any], window: PartitionWindow) -> bool:
    """Whether the raw table would count `op` in the partition (see `raw_payloads`)."""
    created = optional_time(op.get("operation_created_at"))
    return created is None or window.contains(created)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the parent dies
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(1)


@few_collections()  # as in the run: the collector's passes far apart
def _serve(conn: Connection) -> None:
    """The child's work: the URL and window, then every frame until the empty one; answers
    once."""
    url, window = conn.recv()

    def operations() -> Iterator[Encoded]:
        while data := conn.recv_bytes():
            for payload in pickle.loads(data):  # noqa: S301 - our own parent's frames
                yield orjson.loads(payload), payload

    try:
        report = normalize_into_transactions(
            get_engine(url),
            operations(),
            lambda landed: normalize_landed(landed, window),
            STATUSES,
            batch_size=WRITE_BATCH,
            ahead=AHEAD_BATCHES,
        )
        for txn in report.preview:  # an orjson.Fragment does not pickle: its JSON, parsed
            txn.raw_data = orjson.loads(orjson.dumps(txn.raw_data))
        answer: tuple[str, Any] = ("ok", report)
    except BaseException as error:
        answer = ("error", _picklable(error))
    conn.send(answer)


def _picklable(error: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(error))  # noqa: S301
        return error
    except Exception:
        return NormalizerError(f"{type(error).__name__}: {error}")


def main(argv: list[str]) -> None:
    """The child's entry point: `python -m hub_pipelines.sources.vima.normalizer FD PARENT`."""
    fd, parent = int(argv[0]), int(argv[1])
    _die_with_parent(parent)
    _serve(Connection(fd))


if __name__ == "__main__":
    # run from the module under its own name, not `__main__`: an error or a report it sends
    # back must name classes the parent can unpickle
    from hub_pipelines.sources.vima.normalizer import main as run

    run(sys.argv[1:])
