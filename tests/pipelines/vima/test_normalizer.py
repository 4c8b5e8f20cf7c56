"""The Vima run's normalizer process: a failure in it fails the run and changes nothing the next
run cannot finish; a dead normalizer fails the run at once; it never sees a password on its
command line; an empty sync starts none (real PostgreSQL, the sandbox over HTTP, real
processes)."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from hub_core.db import get_engine
from hub_core.settings import get_settings
from hub_pipelines.sources.vima import ingest, normalizer
from hub_pipelines.sources.vima.client import VimaClient
from hub_pipelines.sources.vima.ingest import ingest_and_normalize
from hub_pipelines.sources.vima.normalizer import NormalizerError, NormalizerProcess
from hub_pipelines.warehouse.rows import canonical_json
from hub_pipelines.windows import PartitionWindow
from tests.conftest import processes_running, wait_for
from tests.pipelines.vima.test_assets import DAY, _expected, _stored
from tests.pipelines.vima.test_inline import _client, _marker

MODULE = normalizer.__name__


def _key() -> str:
    return get_settings().vima_api_key.get_secret_value()


def _normalizers() -> list[int]:
    return processes_running(MODULE, parent=os.getpid())


class _AfterPages(VimaClient):
    """Calls `action` once, when `pages` pages of operations have been fetched."""

    def __init__(self, *args: Any, pages: int, action: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages_left = pages
        self.action = action

    def get_operations(self, **kwargs: Any) -> list[dict[str, Any]]:
        if kwargs.get("count") != 1:  # not the watermark query
            if self.pages_left == 0:
                self.action()
            self.pages_left -= 1
        return super().get_operations(**kwargs)


def test_a_failing_write_in_the_normalizer_fails_the_run_and_the_next_catches_up(
    sandbox, clean_db
) -> None:
    window = PartitionWindow.for_key(DAY, "UTC")
    with clean_db.begin() as conn:  # a real fault of the database: every insert refused
        conn.execute(
            text(
                "CREATE FUNCTION hub_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER hub_test_refuse BEFORE INSERT ON transactions "
                "FOR EACH ROW EXECUTE FUNCTION hub_test_refuse()"
            )
        )
    try:
        with (
            pytest.raises(psycopg.errors.RaiseException, match="disk full"),
            _client(sandbox) as client,
        ):
            ingest_and_normalize(client, clean_db, window)
    finally:
        with clean_db.begin() as conn:
            conn.execute(text("DROP TRIGGER hub_test_refuse ON transactions"))
            conn.execute(text("DROP FUNCTION hub_test_refuse()"))
    assert _marker(clean_db) is False
    assert _stored(clean_db) == {}
    assert _normalizers() == []  # nothing left running
    with _client(sandbox) as client:
        ingest_and_normalize(client, clean_db, window)
    assert _stored(clean_db) == _expected(sandbox)
    assert _marker(clean_db) is True


def test_a_normalizer_killed_mid_run_fails_the_run_at_once(sandbox, clean_db) -> None:
    window = PartitionWindow.for_key(DAY, "UTC")
    killed: list[int] = []

    def kill_the_normalizer() -> None:
        if not killed:
            killed.extend(wait_for(_normalizers, 30, "the normalizer process"))
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    with (
        pytest.raises(NormalizerError, match="normalizer"),
        _AfterPages(sandbox.vima_url, _key(), pages=2, action=kill_the_normalizer) as client,
    ):
        ingest_and_normalize(client, clean_db, window)
    assert len(killed) == 1
    assert _marker(clean_db) is False
    with _client(sandbox) as client:
        _, normalized = ingest_and_normalize(client, clean_db, window)
    assert _stored(clean_db) == _expected(sandbox)  # from raw: every landed row, once
    assert normalized.normalized == len(_expected(sandbox))


def test_the_database_password_is_on_no_command_line(sandbox, clean_db) -> None:
    # trust authentication ignores a password: the URL carries one all the same
    url = clean_db.url.set(password="never-on-a-command-line")
    engine = get_engine(url.render_as_string(hide_password=False))
    window = PartitionWindow.for_key(DAY, "UTC")
    seen: list[bytes] = []

    def read_its_command_line() -> None:
        for pid in wait_for(_normalizers, 30, "the normalizer process"):
            seen.append(Path(f"/proc/{pid}/cmdline").read_bytes())

    with _AfterPages(sandbox.vima_url, _key(), pages=1, action=read_its_command_line) as client:
        _, normalized = ingest_and_normalize(client, engine, window)
    assert seen and all(b"never-on-a-command-line" not in line for line in seen)
    assert all(MODULE.encode() in line for line in seen)
    assert normalized.normalized == len(_expected(sandbox))  # and the password did connect


def test_an_empty_day_starts_no_normalizer(sandbox, clean_db, monkeypatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a normalizer process was started for an empty day")

    monkeypatch.setattr(ingest, "NormalizerProcess", refuse)
    window = PartitionWindow.for_key("2031-01-01", "UTC")  # the sandbox has nothing then
    with _client(sandbox) as client:
        landed, normalized = ingest_and_normalize(client, clean_db, window)
    assert landed.fetched == 0 and normalized.normalized == 0
    assert _marker(clean_db) is True


def test_a_normalizer_told_of_no_batches_answers_with_an_empty_report(clean_db) -> None:
    url = clean_db.url.render_as_string(hide_password=False)
    process = NormalizerProcess(url, PartitionWindow.for_key(DAY, "UTC"))
    process.put([])  # nothing to send
    report = process.finish()
    assert report.normalized == 0 and report.rows.new == 0 and report.rejected == []
    assert _normalizers() == []


def test_the_normalizers_loop_answers_with_what_it_wrote_and_rejected(clean_db) -> None:
    # the child's side, run in a thread of this process over a real socket pair
    good = {
        "operation_id": "op-1",
        "current_status": "success",
        "operation_created_at": f"{DAY}T10:00:00Z",
        "create_params": {
            "method": "payment.in",
            "params": {"payment": {"amount": {"value": 12345, "currency": "INR"}}},
        },
    }
    broken = {**good, "operation_id": "op-2", "current_status": ""}
    elsewhere = {**good, "operation_id": "op-3", "operation_created_at": "2025-06-01T00:00:00Z"}
    ours, theirs = socket.socketpair()
    parent, child = Connection(ours.detach()), Connection(theirs.detach())
    serving = threading.Thread(target=normalizer._serve, args=(child,))
    serving.start()
    parent.send(
        (clean_db.url.render_as_string(hide_password=False), PartitionWindow.for_key(DAY, "UTC"))
    )
    parent.send_bytes(pickle.dumps([canonical_json(op) for op in (good, broken, elsewhere)]))
    parent.send_bytes(b"")
    outcome, report = parent.recv()
    serving.join(timeout=30)
    assert outcome == "ok"
    assert (report.normalized, report.rows.new) == (1, 1)
    assert len(report.rejected) == 1 and "op-2" in report.rejected[0]
    assert report.preview[0].raw_data == good  # the landed JSON, parsed to travel back
    assert set(_stored(clean_db)) == {"op-1"}


def test_a_failure_that_does_not_pickle_travels_back_as_its_text() -> None:
    class Local(Exception):  # a class defined in a function cannot be pickled
        pass

    error = normalizer._picklable(Local("the reason"))
    assert isinstance(error, NormalizerError) and str(error) == "Local: the reason"
    kept = ValueError("plain")
    assert normalizer._picklable(kept) is kept
