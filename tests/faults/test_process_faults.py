"""Faults around one sync run, each run its own process (`tests.faults.run_partition`): Redis
unreachable, two runs of one partition at once, a login refused twice, database connections
terminated mid-run. Each case: the rows are exactly the provider's, the exit code and
`sync_state` tell the truth, and nothing private reaches a log or a stored message."""

from __future__ import annotations

import redis
from sqlalchemy import Engine, text

from hub_core.cache import DATA_VERSION_KEY
from hub_core.types import Source
from hub_sandbox.server import SandboxHandle
from tests.conftest import free_port
from tests.faults.conftest import (
    DAYS,
    Logs,
    assert_exact,
    assert_nothing_private,
    finish,
    run_partition,
    stored_messages,
    stored_rows,
    sync_state,
    wait_for,
)

DAY = DAYS[1]


def _missed_bumps(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM missed_cache_bumps")).scalar_one())


def test_redis_unreachable_during_runs(
    calm: SandboxHandle, clean_db: Engine, redis_client: redis.Redis, dagster_home, logs: Logs
) -> None:
    dead = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    runs = [run_partition(source, DAY, logs, dead) for source in Source]
    assert [finish(run) for run in runs] == [0, 0]  # rows written: no run fails on the cache
    for source in Source:
        assert_exact(clean_db, calm, source, DAY)
        assert sync_state(clean_db, source)[0] == "idle"
    output = logs.all_text()
    assert "Redis unreachable" in output  # the warning names Redis
    assert calm.stats()["payshack"]["logins"] == 1  # PayShack logged in afresh, no session store
    assert _missed_bumps(clean_db) == 1

    # Redis back: the next run writes nothing new, yet bumps the version the cache keys carry
    version = int(redis_client.get(DATA_VERSION_KEY) or 0)
    assert finish(run_partition(Source.VIMA, DAY, logs)) == 0
    assert int(redis_client.get(DATA_VERSION_KEY) or 0) == version + 1
    assert _missed_bumps(clean_db) == 0
    assert_nothing_private(calm, logs.all_text(), stored_messages(clean_db))


def test_two_runs_of_one_partition_at_once(
    calm: SandboxHandle, clean_db: Engine, redis_client, dagster_home, logs: Logs
) -> None:
    # every page slow (1 s: ~20 s of paging left once the first page lands, while a second
    # process needs ~5-8 s to start): the first run is still paging...
    calm.faults.slow_seconds = 1.0
    calm.faults.set_spec("slow:1")
    first = run_partition(Source.VIMA, DAY, logs)
    wait_for(lambda: stored_rows(clean_db, Source.VIMA, DAY), 60, "the first page to land")
    # ...when a second starts from another instance (its pools do not see the first run)
    second = run_partition(Source.VIMA, DAY, logs, own_instance=True)
    assert [finish(first), finish(second)] == [0, 0]  # the second waited for the first
    assert_exact(clean_db, calm, Source.VIMA, DAY)
    assert sync_state(clean_db, Source.VIMA)[0] == "idle"
    output = logs.all_text()
    assert "UniqueViolation" not in output and "waiting for another run" in output
    assert_nothing_private(calm, output, stored_messages(clean_db))


def test_a_login_refused_twice_then_accepted(
    calm: SandboxHandle, clean_db: Engine, redis_client, dagster_home, logs: Logs
) -> None:
    calm.knobs.update(login_fail_first=2)  # two 503s at the login form
    assert finish(run_partition(Source.PAYSHACK, DAY, logs)) == 0
    assert_exact(clean_db, calm, Source.PAYSHACK, DAY)
    assert sync_state(clean_db, Source.PAYSHACK)[0] == "idle"
    assert calm.stats()["payshack"]["logins"] == 1
    assert_nothing_private(calm, logs.all_text(), stored_messages(clean_db))


def test_database_connections_terminated_mid_run(
    calm: SandboxHandle, clean_db: Engine, redis_client, dagster_home, logs: Logs
) -> None:
    calm.faults.slow_seconds = 0.4
    calm.faults.set_spec("slow:1")
    run = run_partition(Source.VIMA, DAY, logs)
    wait_for(lambda: stored_rows(clean_db, Source.VIMA, DAY), 60, "the first page to land")
    with clean_db.connect() as conn:  # every session of the hub database but this one
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    assert killed >= 1
    code = finish(run)
    status, _run_id, error = sync_state(clean_db, Source.VIMA)
    if code == 0:  # the run's retries carried it through
        assert status == "idle"
    else:  # or it failed, saying so in one short line without row values
        assert status == "failed" and error and len(error) <= 300 and "\n" not in error
        calm.faults.set_spec(None)
        assert finish(run_partition(Source.VIMA, DAY, logs)) == 0
        assert sync_state(clean_db, Source.VIMA)[0] == "idle"
    assert_exact(clean_db, calm, Source.VIMA, DAY)
    assert_nothing_private(calm, logs.all_text(), stored_messages(clean_db))
