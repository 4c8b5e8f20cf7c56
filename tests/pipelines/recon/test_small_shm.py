"""A PostgreSQL with little dynamic shared memory still reconciles a day, with the same results.

A parallel hash join keeps its hash tables in `/dev/shm`; Docker gives a container 64 MB of it,
and a big day's join then fails with "could not resize shared memory segment". Here a throwaway
PostgreSQL runs in a mount namespace of its own with a 4 MB `/dev/shm` (a day of 80,000 rows a
side needs more), so the fault is the server's own; `reconcile_day` must fall back to a join
without parallel workers and store exactly what the suite's ordinary server stores for the
same day.

Starting that server needs root (a mount namespace) and PostgreSQL's `initdb` and `postgres`:
in CI their absence is a failure; elsewhere the test is skipped, saying why.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hub_core import db, devservices, migrate
from hub_core.db import ensure_month_partitions
from hub_pipelines.reconcile import ReconParams, ReconSummary, reconcile_day
from tests.conftest import free_port, stop_process

DAY = date(2026, 7, 14)
PARAMS = ReconParams(projects=("p1",))
ROWS = 80_000
SHM = "4m"

# One day of ROWS operations a side, every kind of result among them: PayShack misses every
# 89th, Vima every 97th; every 101st differs in amount, every 103rd in status; every 307th has
# another key on PayShack (the fallback pairs it); every 501st is twice on Vima (a duplicate).
DAY_SQL = """
INSERT INTO transactions (id, source, source_id, match_key, project, direction, amount,
                          currency, status, original_status, created_at, data_hash)
SELECT gen_random_uuid(), s.source, s.source || '-' || i || s.copy,
       CASE WHEN s.source = 'payshack' AND i % 307 = 0 THEN 'x' || i ELSE 'k' || i END,
       'p1', CASE WHEN i % 10 = 0 THEN 'payout' ELSE 'payin' END,
       100 + i % 1000 + CASE WHEN s.source = 'payshack' AND i % 101 = 0 THEN 1 ELSE 0 END,
       'INR', s.status, s.status,
       :day_start + i * interval '1 second' * 86400 / :rows + s.lag, 'h'
FROM generate_series(1, :rows) AS i
CROSS JOIN LATERAL (
    VALUES ('vima', '', 'success', interval '0'),
           ('vima', 'd', 'success', interval '5 seconds'),
           ('payshack', '', CASE WHEN i % 103 = 0 THEN 'failed' ELSE 'success' END,
            interval '20 seconds')
) AS s(source, copy, status, lag)
WHERE (s.source = 'vima' AND s.copy = '' AND i % 97 <> 0)
   OR (s.source = 'vima' AND s.copy = 'd' AND i % 501 = 0)
   OR (s.source = 'payshack' AND i % 89 <> 0)
"""

RESULTS_SQL = """
SELECT match_type, match_method, discrepancy_key, vima_txn_id, payshack_txn_id, vima_amount,
       payshack_amount, amount_diff, vima_status, payshack_status, details::text
FROM reconciliation_results WHERE recon_date = :day
ORDER BY discrepancy_key
"""


def _unavailable(why: str) -> None:
    """Fail in CI, skip elsewhere: a missing prerequisite is never a silent pass in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"a PostgreSQL with a small /dev/shm cannot start here: {why}")
    pytest.skip(why)


def _bindir() -> Path | None:
    """The directory of PostgreSQL's `initdb` and `postgres`: pg_config's, else Debian's."""
    candidates = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def small_shm_url() -> Iterator[str]:
    """The URL of a throwaway PostgreSQL whose /dev/shm is a 4 MB tmpfs, migrated."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        _unavailable("needs Linux and root (a mount namespace with its own /dev/shm)")
    bindir = _bindir()
    if bindir is None or not shutil.which("unshare") or not shutil.which("setpriv"):
        _unavailable("needs PostgreSQL's initdb/postgres, unshare and setpriv")
    home = Path(tempfile.mkdtemp(prefix="hub-small-shm-"))
    data = home / "data"
    # the user the embedded PostgreSQL runs as (PostgreSQL refuses root): `postgres`, else one
    # created for it, as `make services` does
    user = devservices._pg_system_user(data)
    assert user is not None
    shutil.chown(home, user, user)
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    devservices._run_pg([*initdb, "--no-sync"], user, home, timeout=120)
    port = free_port()
    postgres = " ".join(
        ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--",
         str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(home),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
         "-c", "min_parallel_table_scan_size=0"]
    )  # fmt: skip
    # unshare and sh exec: the process is the postmaster, in a mount namespace of its own
    server = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
         f"mount -t tmpfs -o size={SHM} tmpfs /dev/shm && exec {postgres}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=home,
    )  # fmt: skip
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/hub_small_shm"
    try:
        if not devservices.wait_ready(
            devservices.pg_status, devservices.Server("127.0.0.1", port), timeout=30
        ):
            server.kill()
            pytest.fail(f"the small-shm PostgreSQL did not start: {server.communicate()[1]!r}")
        migrate.upgrade(url)
        yield url
    finally:
        db.get_engine(url).dispose()
        stop_process(server, sig=signal.SIGINT)  # fast shutdown
        shutil.rmtree(home, ignore_errors=True)


def _load_and_reconcile(engine: Engine) -> tuple[ReconSummary, list[tuple]]:
    """The day's operations into `engine`'s database, reconciled; its summary and results."""
    day_start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    with engine.begin() as conn:
        ensure_month_partitions(conn, DAY, DAY)
        conn.execute(text(DAY_SQL), {"day_start": day_start, "rows": ROWS})
        conn.execute(text("ANALYZE transactions"))
    with engine.begin() as conn:
        summary = reconcile_day(conn, DAY, "small-shm", PARAMS)
    with engine.connect() as conn:
        results = [tuple(row) for row in conn.execute(text(RESULTS_SQL), {"day": DAY})]
    return summary, results


def test_a_server_short_of_shared_memory_reconciles_without_parallel_workers(
    small_shm_url: str, clean_db: Engine
) -> None:
    # the suite's own server first: its join runs with parallel workers
    expected_summary, expected = _load_and_reconcile(clean_db)
    assert expected_summary.serial_join is None
    assert set(expected_summary.counts) == {
        "matched", "discrepancy_amount", "discrepancy_status", "missing_payshack",
        "missing_vima", "duplicate",
    }  # fmt: skip
    assert expected_summary.by_method["fallback"] > 0

    summary, results = _load_and_reconcile(db.get_engine(small_shm_url))

    # the parallel join failed for want of shared memory, and the serial one replaced it
    assert summary.serial_join is not None
    assert "shared memory" in summary.serial_join
    assert summary.counts == expected_summary.counts
    assert summary.by_method == expected_summary.by_method
    assert len(results) == len(expected) == summary.total
    assert results == expected
