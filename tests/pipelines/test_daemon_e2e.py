"""End to end with a running Dagster daemon: a source materializes, the sensor reconciles."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, materialize
from sqlalchemy import text

from hub_core.types import Source
from hub_pipelines.defs.vima.assets import vima_assets
from hub_pipelines.resources import RedisResource, VimaResource, WarehouseResource
from hub_pipelines.warehouse.sync import record_partition_sync
from tests.conftest import DAGSTER_CWD, ROOT, stop_process

DAY = "2026-01-01"
NEXT_DAY = "2026-01-02"


@pytest.fixture
def daemon(dagster_home: Path, sandbox) -> subprocess.Popen:
    """`dagster-daemon run` on the test instance, pointed at the sandbox."""
    log = (dagster_home / "daemon.log").open("w")
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "VIMA_BASE_URL": sandbox.vima_url,
           "PAYSHACK_BASE_URL": sandbox.payshack_url}  # fmt: skip
    command = [str(Path(sys.executable).with_name("dagster-daemon")), "run"]
    process = subprocess.Popen(
        [*command, "-w", str(ROOT / "workspace.yaml")],
        cwd=DAGSTER_CWD,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    stop_process(process)
    log.close()


def test_sensor_reconciles_a_materialized_day_through_the_daemon(
    dagster_home: Path,
    sandbox,
    daemon,
    clean_db,
    redis_client,
) -> None:
    instance = DagsterInstance.from_config(str(dagster_home))
    with clean_db.begin() as conn:  # PayShack and the next day have landed already
        for source, partition in (
            (Source.PAYSHACK, DAY),
            (Source.PAYSHACK, NEXT_DAY),
            (Source.VIMA, NEXT_DAY),
        ):
            record_partition_sync(conn, source, partition, datetime.now(UTC), True, 0)
    mine = RunsFilter(job_name="reconcile_and_metrics", tags={"dagster/partition": DAY})
    earlier = {run.run_id for run in instance.get_runs(mine)}  # other tests' runs of the day
    try:
        result = materialize(
            [vima_assets],
            partition_key=DAY,
            instance=instance,
            resources={
                "warehouse": WarehouseResource(),
                "redis": RedisResource(),
                "vima": VimaResource(base_url=sandbox.vima_url),
            },
        )
        assert result.success
        deadline = time.monotonic() + 240
        done = []
        while time.monotonic() < deadline and not done:
            assert daemon.poll() is None, (dagster_home / "daemon.log").read_text()[-3000:]
            runs = [run for run in instance.get_runs(mine) if run.run_id not in earlier]
            failed = [r for r in runs if r.status == DagsterRunStatus.FAILURE]
            assert not failed, f"reconcile run failed: {failed[0].run_id}"
            done = [r for r in runs if r.status == DagsterRunStatus.SUCCESS]
            time.sleep(2)
        assert done, (
            "the sensor did not reconcile the day within 240 s: "
            + ((dagster_home / "daemon.log").read_text()[-3000:])
        )
        with clean_db.connect() as conn:
            results = conn.execute(
                text("SELECT count(*) FROM reconciliation_results WHERE recon_date = :d"),
                {"d": DAY},
            ).scalar()
            metrics = conn.execute(
                text("SELECT count(*) FROM hourly_metrics WHERE hour >= :d"), {"d": DAY}
            ).scalar()
            provisional = conn.execute(
                text("SELECT provisional FROM reconciliation_runs WHERE recon_date = :d"),
                {"d": DAY},
            ).scalar()
        assert results > 0 and metrics > 0
        assert provisional is False
    finally:
        instance.dispose()
