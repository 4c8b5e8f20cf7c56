"""Faults under the real Dagster daemon (run queue, run monitoring, sensors), runs launched
through the webserver's GraphQL API as the hub's API does: a SIGKILL of both sources' run
workers mid-paging, two syncs of one source submitted at once, a PayShack day whose list keeps
moving, a backfill in which one source lands days before the other."""

from __future__ import annotations

import itertools
import os
import re
import signal
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy import Engine, text

from hub_api.dagster_client import DagsterClient
from hub_core.orchestration import RECONCILE_JOB, SYNC_JOBS
from hub_core.queries.sync import incomplete_partitions
from hub_core.types import Source
from hub_pipelines.sources.vima import normalizer
from hub_sandbox.server import SandboxHandle
from tests.conftest import processes_running
from tests.faults.conftest import (
    DAYS,
    assert_exact,
    assert_nothing_private,
    dagster_texts,
    stored_messages,
    stored_rows,
    sync_state,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("daemon")

NO_RETRY = {"dagster/max_retries": "0"}
_PID = re.compile(r"Started process for run \(pid: (\d+)\)")

NORMALIZER = normalizer.__name__
"""The module a Vima run's normalizer process runs (`python -m`)."""


@pytest.fixture(scope="module")
def client(dagster_webserver: str) -> DagsterClient:
    """The API's client of the test webserver."""
    return DagsterClient(dagster_webserver, timeout=30)


def _status(instance: DagsterInstance, run_id: str) -> DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def _succeeded(instance: DagsterInstance, run_id: str, timeout: float = 180) -> None:
    def done() -> bool:
        status = _status(instance, run_id)
        assert status not in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED), (
            f"run {run_id} ended {status.value}"
        )
        return status == DagsterRunStatus.SUCCESS

    wait_for(done, timeout, f"run {run_id} to succeed")


def _worker_pid(instance: DagsterInstance, run_id: str) -> int | None:
    for entry in instance.all_logs(run_id):
        if match := _PID.search(entry.message or ""):
            return int(match.group(1))
    return None


def _runs(instance: DagsterInstance, job: str, day: str) -> list:
    return instance.get_runs(RunsFilter(job_name=job, tags={"dagster/partition": day}))


def test_sigkill_mid_paging_then_the_next_run_stores_exactly(
    calm: SandboxHandle,
    clean_db: Engine,
    redis_client,
    instance: DagsterInstance,
    client: DagsterClient,
    daemon: Path,
    dagster_home: Path,
) -> None:
    day = DAYS[0]
    calm.faults.slow_seconds = 0.5
    calm.faults.set_spec("slow:1")  # each Vima page takes 0.5 s
    calm.knobs.update(slow_every=1, slow_seconds=0.5)  # and each PayShack list request
    killed = {source: client.launch(SYNC_JOBS[source], day, NO_RETRY) for source in Source}
    normalizers: list[int] = []
    for source, run_id in killed.items():
        wait_for(lambda s=source: stored_rows(clean_db, s, day), 120, f"{source}'s first page")
        pid = wait_for(lambda r=run_id: _worker_pid(instance, r), 30, "the run worker's pid")
        if source is Source.VIMA:  # the run's normalizer process, started with the first page
            normalizers = wait_for(
                lambda p=pid: processes_running(NORMALIZER, parent=p), 30, "the normalizer"
            )
        os.kill(pid, signal.SIGKILL)
    wait_for(  # it dies with its run: no writer left behind
        lambda: not set(normalizers) & set(processes_running(NORMALIZER)),
        10,
        "the killed run's normalizer to die with it",
    )
    for source, run_id in killed.items():
        wait_for(
            lambda r=run_id: _status(instance, r) == DagsterRunStatus.FAILURE,
            60,
            f"Dagster to mark the killed {source} run failed",
        )
        assert len(stored_rows(clean_db, source, day)) < 600  # killed mid-paging indeed
        wait_for(
            lambda s=source, r=run_id: sync_state(clean_db, s)[:2] == ("failed", r),
            120,
            f"sync_state of {source} to follow the dead run",
        )

    calm.faults.set_spec(None)
    calm.knobs.update(slow_every=0)
    again = {source: client.launch(SYNC_JOBS[source], day, NO_RETRY) for source in Source}
    for source, run_id in again.items():
        _succeeded(instance, run_id)
        assert_exact(clean_db, calm, source, day)
        assert sync_state(clean_db, source)[:2] == ("idle", run_id)
    assert_nothing_private(
        calm,
        daemon.read_text(errors="replace"),
        dagster_texts(instance, [*killed.values(), *again.values()], dagster_home),
        stored_messages(clean_db),
    )


def test_two_syncs_of_one_source_never_overlap_under_the_daemon(
    calm: SandboxHandle,
    clean_db: Engine,
    redis_client,
    instance: DagsterInstance,
    client: DagsterClient,
) -> None:
    """Two Vima syncs (two days) submitted at once: the second starts only after the first has
    ended (the source's pool, one slot granted per run); both land their day exactly."""
    calm.faults.slow_seconds = 0.3
    calm.faults.set_spec("slow:1")  # each Vima page takes 0.3 s: the runs last a while
    runs = [client.launch(SYNC_JOBS[Source.VIMA], day, NO_RETRY) for day in DAYS[1:]]
    try:
        for run_id in runs:
            _succeeded(instance, run_id)
    finally:
        calm.faults.set_spec(None)
    records = sorted(
        (instance.get_run_record_by_id(run_id) for run_id in runs),
        key=lambda record: record.start_time or 0,
    )
    first, second = records
    assert first.start_time and first.end_time and second.start_time
    assert second.start_time >= first.end_time, "two runs of one source overlapped"
    for day in DAYS[1:]:
        assert_exact(clean_db, calm, Source.VIMA, day)


def test_a_day_whose_list_keeps_moving_is_finished_by_the_sensor(
    calm: SandboxHandle,
    clean_db: Engine,
    redis_client,
    instance: DagsterInstance,
    client: DagsterClient,
) -> None:
    day = DAYS[1]
    calm.knobs.update(insert_every=1, insert_count=2)  # new pay-ins at every list request
    first = client.launch(SYNC_JOBS[Source.PAYSHACK], day, NO_RETRY)
    _succeeded(instance, first)
    with clean_db.connect() as conn:
        assert list(incomplete_partitions(conn)[Source.PAYSHACK]) == [day]  # not "complete"
    calm.knobs.update(insert_every=0)  # the list settles: the sensor's run reads it whole

    def finished() -> bool:
        with clean_db.connect() as conn:
            return not incomplete_partitions(conn)[Source.PAYSHACK]

    wait_for(finished, 180, "finish_incomplete_days to complete the day")
    finishing = [
        run
        for run in _runs(instance, SYNC_JOBS[Source.PAYSHACK], day)
        if run.tags.get("hub/trigger") == "finish_incomplete"
    ]
    assert len(finishing) == 1
    _succeeded(instance, finishing[0].run_id)
    assert_exact(clean_db, calm, Source.PAYSHACK, day)


def test_a_source_days_ahead_in_a_backfill_reports_no_final_break(
    calm: SandboxHandle,
    clean_db: Engine,
    redis_client,
    instance: DagsterInstance,
    client: DagsterClient,
    daemon: Path,
) -> None:
    """Vima lands the three days, PayShack only the first two: the first day is reconciled
    once (its inputs, with the next day its margin reads, are all there); the second waits for
    PayShack's third day, the third for both sources' fourth."""
    earlier = {run.run_id for day in DAYS for run in _runs(instance, RECONCILE_JOB, day)}
    launched = [client.launch(SYNC_JOBS[Source.VIMA], day, NO_RETRY) for day in DAYS]
    launched += [client.launch(SYNC_JOBS[Source.PAYSHACK], day, NO_RETRY) for day in DAYS[:2]]
    for run_id in launched:  # (the queue runs one sync of a source at a time)
        _succeeded(instance, run_id)
    offset = len(daemon.read_text(errors="replace"))

    def sensor_ticked_twice() -> bool:  # the second tick started: the first saw every event
        later = daemon.read_text(errors="replace")[offset:]
        return later.count("Checking for new runs for sensor: reconcile_changed_days") >= 2

    wait_for(sensor_ticked_twice, 120, "two ticks of reconcile_changed_days", every=2)
    runs = {
        day: [run for run in _runs(instance, RECONCILE_JOB, day) if run.run_id not in earlier]
        for day in DAYS
    }
    # the first day once its inputs are all there (again if a later sync of them lands after its
    # run started); the others wait for the days PayShack has not reached
    assert runs[DAYS[0]] and not runs[DAYS[1]] and not runs[DAYS[2]]
    for run in runs[DAYS[0]]:
        _succeeded(instance, run.run_id)
    records = sorted(
        (instance.get_run_record_by_id(run.run_id) for run in runs[DAYS[0]]),
        key=lambda record: record.create_timestamp,
    )
    for before, after in itertools.pairwise(records):  # never two queued at once
        assert before.start_time is not None
        assert after.create_timestamp.timestamp() >= before.start_time
    with clean_db.connect() as conn:
        days = conn.execute(
            text("SELECT recon_date::text, provisional FROM reconciliation_runs")
        ).all()
        breaks = conn.execute(
            text(
                "SELECT DISTINCT recon_date::text FROM reconciliation_results "
                "WHERE match_type <> 'matched'"
            )
        ).scalars()
        assert set(breaks) <= {DAYS[0]}  # no break for a day PayShack has not finished
    assert [tuple(row) for row in days] == [(DAYS[0], False)]
