"""Daily reconciliation benchmark (issue 6): the hub's set-based SQL against a pandas merge.

A day (2026-03-10 UTC) of N Vima and about N PayShack transactions is generated straight into
`transactions` of a freshly migrated `bench_recon` database with `INSERT ... SELECT FROM
generate_series` (not through the providers), with realistic breaks: ~0.5% missing on each
side, ~0.2% amount differences, ~0.3% status differences, ~0.05% duplicated keys (half on each
side) and ~0.1% changed keys that only the fallback pass can pair. The 6-hour margins before and
after the day hold `--margin-rows` more rows per side each, so the window logic is exercised.
Loading, indexing and `VACUUM ANALYZE` are setup, never timed.

Contenders, each in its own spawned interpreter, run on the same database in the same run:

- `hub`: `reconcile_day(conn, 2026-03-10, 'bench', ReconParams(projects=('91game',
  'caroussel')))` inside `engine.begin()`: deleting the day's previous results, the join of
  the two sides into a temp table (a parallel hash join), the results statement (results
  inserted into `reconciliation_results`, counts returned), the largest breaks and the commit.
  Run on an empty results table (`first`) and again over the stored results of the previous
  run (`re-run`: the DELETE of ~1M rows is in it, as in the daily late pass). Memory: the
  Python process's peak RSS, and the PostgreSQL backend's
  (VmHWM, and RssAnon sampled every 50 ms: its private memory, shared buffers excluded) plus
  the temporary files the statement spilled (`pg_stat_database.temp_bytes` delta).
- `pandas`: read the same window's rows of both sides with `COPY ... TO STDOUT (FORMAT csv)`
  into a buffer and `pd.read_csv` (timed apart), then `pd.merge(v, p, on=['direction',
  'match_key'], how='outer', indicator=True)` and the same type classification (amount beyond
  0.01, else status differs, else matched; orphans by side) restricted to the day by the
  earlier record. No fallback pass, no duplicate rules. Then, timed apart, the write-back a
  pandas job would need to deliver what the hub delivers: the day's results COPYed into
  `reconciliation_results` (one row each, the hub's indexes), rolled back afterwards.

Both run at `--flat-rows` (default 250,000, margins scaled alike) and at `--rows` per side to
show how memory grows with the day. A hub run is cancelled after `--hub-timeout` seconds
(`statement_timeout`) and reported as not finished. Diagnostic hub runs (`--diag`, default
`max_parallel_workers_per_gather=0`: no parallel workers) run the same unchanged
`reconcile_day` on a session with those settings (what `reconcile_day` sets itself with `SET
LOCAL` wins), to show what a setting costs. When the hub
misses the 20 s target (or with `--explain`), `reconcile_day` runs again, unchanged, in a
rolled-back transaction on a session with PostgreSQL's auto_explain loaded (ANALYZE, BUFFERS,
JSON plans sent to the client as notices), and the same for each diagnostic variant; the plan
of the results statement (the one that inserts into `reconciliation_results`: found by what
its plan does, not by its SQL text) is printed with its slowest nodes. auto_explain reports a
statement once it has run, so a shipped run that did not finish gets no plan (it used to get a
plain `EXPLAIN`), and plans carry no planning time (`planning_ms` is None).
`reconcile_py_sha256_12` digests `hub_pipelines/reconcile.py` and its statements
(`hub_pipelines/sql/reconcile_*.sql`).

Run: `.venv/bin/python bench/reconcile.py [--rows 1000000] [--margin-rows 250000]
[--flat-rows 250000] [--only hub|pandas] [--hub-timeout 600] [--diag SETTINGS | none]
[--repeat N] [--json out.json] [--explain plans.txt]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    ROOT,
    Sampler,
    add_quiet_wait,
    conninfo,
    db_url,
    drop_database,
    files_digest,
    machine_basics,
    pg_settings,
    proc_status,
    recreate_database,
    wait_for_quiet,
)
from _common import run_isolated as _run_isolated

DAY = date(2026, 3, 10)
PROJECTS = ("91game", "caroussel")
RUN_ID = "bench"
DB_NAME = "bench_recon"
MARGIN_HOURS = 6
SEED = 0.42
TARGET_SECONDS = 20.0
SAMPLE_EVERY = 0.05

# Break shares, in basis points (1/10,000) of the generated keys.
BP_MISSING_PAYSHACK = 50  # a Vima row alone
BP_MISSING_VIMA = 50  # a PayShack row alone
BP_AMOUNT = 20  # PayShack amount differs
BP_STATUS = 30  # PayShack status differs
BP_DUP_VIMA = 3  # the key occurs twice on the Vima side
BP_DUP_PAYSHACK = 2  # the key occurs twice on the PayShack side
BP_CHANGED_KEY = 10  # PayShack key differs: only the fallback can pair the two


# --------------------------------------------------------------------------- helpers


def window() -> tuple[datetime, datetime, datetime, datetime]:
    """(window start, day start, day end, window end) of the benchmark day, aware UTC."""
    day_start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    day_end = day_start + timedelta(days=1)
    margin = timedelta(hours=MARGIN_HOURS)
    return day_start - margin, day_start, day_end, day_end + margin


def parallel_workers(leader: int) -> list[int]:
    """Pids of the parallel workers currently serving the backend `leader`."""
    marker = f"parallel worker for PID {leader}".encode()
    pids: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker in handle.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


class BackendSampler(Sampler):
    """Samples a PostgreSQL backend's memory (and its parallel workers') until stopped."""

    def __init__(self, pid: int, every: float = SAMPLE_EVERY) -> None:
        super().__init__(every)
        self.pid = pid
        self.peak_anon_kib = 0
        self.peak_rss_kib = 0
        self.peak_workers_anon_kib = 0
        self.max_workers = 0
        self._workers: list[int] = []

    def sample(self) -> None:
        """One reading of the backend's memory (and its workers', found every 4th time)."""
        status = proc_status(self.pid)
        self.peak_anon_kib = max(self.peak_anon_kib, status.get("RssAnon", 0))
        self.peak_rss_kib = max(self.peak_rss_kib, status.get("VmRSS", 0))
        if self.samples % 4 == 0:  # scanning /proc is dearer: every 200 ms
            self._workers = parallel_workers(self.pid)
            self.max_workers = max(self.max_workers, len(self._workers))
        if self._workers:
            anon = sum(proc_status(w).get("RssAnon", 0) for w in self._workers)
            self.peak_workers_anon_kib = max(self.peak_workers_anon_kib, anon)


def machine_info() -> dict[str, Any]:
    """The machine and PostgreSQL settings the figures come from."""
    import pandas as pd

    return {**machine_basics(), "pandas": pd.__version__, "postgresql": pg_settings()}


def other_active_sessions() -> list[str]:
    """Databases of the other client sessions busy on the server now (shared machine)."""
    import psycopg

    with psycopg.connect(conninfo("postgres")) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND state = 'active' AND pid <> pg_backend_pid()"
        ).fetchall()
    return [str(row[0]) for row in rows]


def run_isolated(func: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`_common.run_isolated`, plus the other client sessions busy on the server around it."""
    others = other_active_sessions()
    payload = _run_isolated(func, *args)
    payload["other_active_sessions"] = sorted(set(others + other_active_sessions()))
    return payload


# --------------------------------------------------------------------------- data


GEN_SQL = """
CREATE UNLOGGED TABLE bench_gen AS
WITH g AS (
    SELECT i,
           floor(random() * 10000)::int AS bp,
           random() AS r_dir,
           random() AS r_status,
           round((random() * 5000 + 100)::numeric, 2) AS amount,
           1 + floor(random() * 90)::int AS lag_s,
           1 + floor(random() * 500)::int AS delta_cents
    FROM generate_series(1, %(total)s) AS i
)
SELECT i, bp,
       CASE WHEN i %% 2 = 0 THEN '91game' ELSE 'caroussel' END AS project,
       CASE WHEN r_dir < 0.9 THEN 'payin' ELSE 'payout' END AS direction,
       amount,
       CASE WHEN r_status < 0.85 THEN 'success' WHEN r_status < 0.95 THEN 'failed'
            ELSE 'pending' END AS status,
       CASE
           WHEN i <= %(margin)s
               THEN %(win_start)s::timestamptz
                    + (i - 1) * (interval '1 second' * %(margin_s)s / %(margin)s)
           WHEN i <= %(margin)s + %(rows)s
               THEN %(day_start)s::timestamptz
                    + (i - %(margin)s - 1) * (interval '1 second' * 86400 / %(rows)s)
           ELSE %(day_end)s::timestamptz
                + (i - %(margin)s - %(rows)s - 1)
                  * (interval '1 second' * %(margin_s)s / %(margin)s)
       END AS created_at,
       lag_s, delta_cents
FROM g
"""

VIMA_SQL = """
INSERT INTO transactions (
    id, source, source_id, client_operation_id, match_key, project, merchant_id, direction,
    amount, paid_amount, currency, status, original_status, user_id, created_at, updated_at,
    completed_at, raw_data, data_hash
)
SELECT gen_random_uuid(), 'vima', 'v' || i || suffix, 'k' || i, 'k' || i, project, 'm1',
       direction, amount, CASE WHEN status = 'success' THEN amount END, 'INR', status,
       upper(status), 'u' || (i %% 50000), created_at + extra, created_at + extra
           + interval '30 seconds',
       CASE WHEN status = 'success' THEN created_at + extra + interval '20 seconds' END,
       '{}'::jsonb, md5('v' || i || suffix)
FROM bench_gen
CROSS JOIN LATERAL (
    VALUES ('', interval '0'), ('d', interval '45 seconds')
) AS copies(suffix, extra)
WHERE (suffix = '' AND NOT (bp >= %(mv_lo)s AND bp < %(mv_hi)s))
   OR (suffix = 'd' AND bp >= %(dv_lo)s AND bp < %(dv_hi)s)
ORDER BY created_at + extra
"""

PAYSHACK_SQL = """
INSERT INTO transactions (
    id, source, source_id, order_id, match_key, project, merchant_id, direction, amount,
    paid_amount, currency, status, original_status, utr, created_at, updated_at, completed_at,
    raw_data, data_hash
)
SELECT gen_random_uuid(), 'payshack', direction || ':p' || i || suffix, key, key, project,
       'ps1', direction, p_amount, CASE WHEN p_status = 'success' THEN p_amount END, 'INR',
       p_status, upper(p_status), 'utr' || i || suffix, p_created, p_created + interval '1 minute',
       CASE WHEN p_status = 'success' THEN p_created + interval '10 seconds' END,
       '{}'::jsonb, md5('p' || i || suffix)
FROM (
    SELECT g.*, suffix,
           CASE WHEN bp >= %(ck_lo)s AND bp < %(ck_hi)s THEN 'x' || i ELSE 'k' || i END AS key,
           CASE WHEN bp >= %(am_lo)s AND bp < %(am_hi)s THEN amount + delta_cents / 100.0
                ELSE amount END AS p_amount,
           CASE WHEN bp >= %(st_lo)s AND bp < %(st_hi)s
                THEN CASE WHEN status = 'success' THEN 'failed' ELSE 'success' END
                ELSE status END AS p_status,
           created_at + lag_s * interval '1 second' + extra AS p_created
    FROM bench_gen g
    CROSS JOIN LATERAL (
        VALUES ('', interval '0'), ('d', interval '40 seconds')
    ) AS copies(suffix, extra)
    WHERE (suffix = '' AND NOT (bp >= %(mp_lo)s AND bp < %(mp_hi)s))
       OR (suffix = 'd' AND bp >= %(dp_lo)s AND bp < %(dp_hi)s)
) AS s
ORDER BY p_created
"""


def _bands() -> dict[str, int]:
    """Consecutive basis-point bands of each kind of break."""
    bands: dict[str, int] = {}
    low = 0
    for name, width in (
        ("mp", BP_MISSING_PAYSHACK),
        ("mv", BP_MISSING_VIMA),
        ("am", BP_AMOUNT),
        ("st", BP_STATUS),
        ("dv", BP_DUP_VIMA),
        ("dp", BP_DUP_PAYSHACK),
        ("ck", BP_CHANGED_KEY),
    ):
        bands[f"{name}_lo"], bands[f"{name}_hi"] = low, low + width
        low += width
    return bands


def setup_database(rows: int, margin_rows: int) -> dict[str, Any]:
    """Drop and create `bench_recon`, migrate it and load the generated day (untimed setup)."""
    import psycopg

    from hub_core.db import ensure_month_partitions, get_engine

    started = time.perf_counter()
    engine = get_engine(recreate_database(DB_NAME))
    with engine.begin() as conn:
        ensure_month_partitions(conn, DAY.replace(day=1), DAY.replace(day=28))
    engine.dispose()

    win_start, day_start, day_end, _ = window()
    params: dict[str, Any] = {
        "total": rows + 2 * margin_rows,
        "rows": rows,
        "margin": max(1, margin_rows),
        "margin_s": MARGIN_HOURS * 3600,
        "win_start": win_start,
        "day_start": day_start,
        "day_end": day_end,
        **_bands(),
    }
    timings: dict[str, float] = {}
    # Client-side binding: CREATE TABLE AS takes no server-side parameters.
    with psycopg.connect(
        conninfo(DB_NAME), autocommit=True, cursor_factory=psycopg.ClientCursor
    ) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SELECT setseed(%s)", (SEED,))
        for name, sql in (("generate", GEN_SQL), ("vima", VIMA_SQL), ("payshack", PAYSHACK_SQL)):
            t0 = time.perf_counter()
            conn.execute(sql, params)
            timings[f"{name}_s"] = round(time.perf_counter() - t0, 1)
        conn.execute("DROP TABLE bench_gen")
        t0 = time.perf_counter()
        conn.execute("VACUUM ANALYZE transactions")
        timings["vacuum_analyze_s"] = round(time.perf_counter() - t0, 1)
        counts = conn.execute(
            """
            SELECT source,
                   count(*) FILTER (WHERE created_at >= %(ds)s AND created_at < %(de)s),
                   count(*) FILTER (WHERE created_at >= %(ws)s AND created_at < %(we)s),
                   count(*)
            FROM transactions GROUP BY source ORDER BY source
            """,
            {
                "ds": day_start,
                "de": day_end,
                "ws": window()[0],
                "we": window()[3],
            },
        ).fetchall()
        size = conn.execute(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) "
            "FROM pg_inherits WHERE inhparent = 'transactions'::regclass"
        ).fetchone()
    return {
        "rows": rows,
        "margin_rows": margin_rows,
        "setup_s": round(time.perf_counter() - started, 1),
        **timings,
        "transactions": {
            src: {"day": day_n, "window": win_n, "total": all_n}
            for src, day_n, win_n, all_n in counts
        },
        "table_size": size[0] if size else "?",
    }


def expected_breaks(rows: int) -> dict[str, int]:
    """The day's planted breaks, approximately (bands times the day's keys)."""
    return {
        "missing_payshack": rows * BP_MISSING_PAYSHACK // 10_000,
        "missing_vima": rows * BP_MISSING_VIMA // 10_000,
        "discrepancy_amount": rows * BP_AMOUNT // 10_000,
        "discrepancy_status": rows * BP_STATUS // 10_000,
        "duplicate_keys": rows * (BP_DUP_VIMA + BP_DUP_PAYSHACK) // 10_000,
        "fallback_pairs": rows * BP_CHANGED_KEY // 10_000,
    }


# --------------------------------------------------------------------------- contenders


def _temp_stats(conn: Any) -> tuple[int, int]:
    """(temp_files, temp_bytes) of `bench_recon` so far, as the statistics system reports."""
    from sqlalchemy import text

    conn.execute(text("SELECT pg_stat_clear_snapshot()"))
    row = conn.execute(
        text("SELECT temp_files, temp_bytes FROM pg_stat_database WHERE datname = :d"),
        {"d": DB_NAME},
    ).one()
    return int(row[0]), int(row[1])


def _set_all(conn: Any, settings: dict[str, str]) -> None:
    """`SET` every setting for the rest of the session (bench-side diagnostics only)."""
    from sqlalchemy import text

    for name, value in settings.items():
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"not a setting name: {name!r}")
        conn.execute(text(f"SELECT set_config('{name}', :v, false)"), {"v": value})


RESULTS_DIGEST_SQL = """
SELECT md5(string_agg(concat_ws('|', match_type, match_method, discrepancy_key, project, direction,
       client_operation_id, order_id, vima_txn_id, payshack_txn_id, vima_amount, payshack_amount,
       amount_diff, vima_status, payshack_status, currency, details::text), ',' ORDER BY
       discrepancy_key))
FROM reconciliation_results WHERE recon_date = :d
"""
"""Every stored result of the day but its id, run and time, in one md5: equal digests, identical
results (every pair, every break, every detail), whatever the code that wrote them."""


def run_hub(settings: dict[str, str], timeout_s: float, rerun: bool = False) -> dict[str, Any]:
    """Time `reconcile_day` on the generated day; memory of this process and of its backend.

    `settings` are set on the session first (empty for the hub as shipped); the statement is
    cancelled after `timeout_s` (PostgreSQL `statement_timeout`), reported as not finished.
    The results table is emptied first unless `rerun` (then the day's stored results are
    replaced, as a re-run does).
    """
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from hub_core.db import get_engine
    from hub_pipelines.reconcile import ReconParams, reconcile_day

    engine = get_engine(db_url(DB_NAME))
    params = ReconParams(projects=PROJECTS)
    summary = None
    with engine.connect() as observer:
        if not rerun:
            observer.execute(text("TRUNCATE reconciliation_results"))
        replaced = observer.execute(
            text("SELECT count(*) FROM reconciliation_results WHERE recon_date = :d"), {"d": DAY}
        ).scalar_one()
        observer.commit()
        files0, bytes0 = _temp_stats(observer)
        observer.commit()
        with engine.connect() as conn:
            pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
            _set_all(conn, {**settings, "statement_timeout": f"{int(timeout_s * 1000)}"})
            work_mem = conn.execute(text("SHOW work_mem")).scalar_one()
            conn.commit()
            before = proc_status(pid)
            sampler = BackendSampler(pid)
            sampler.start()
            started = time.perf_counter()
            try:
                with conn.begin():
                    summary = reconcile_day(conn, DAY, RUN_ID, params)
                    # what the statement ran with (reconcile_day may SET LOCAL its own)
                    work_mem = conn.execute(text("SHOW work_mem")).scalar_one()
            except OperationalError as error:
                if not isinstance(error.orig, psycopg.errors.QueryCanceled):
                    raise
            seconds = time.perf_counter() - started
            sampler.stop()
            after = proc_status(pid)
            conn.execute(text("SELECT pg_stat_force_next_flush()"))
            conn.commit()
        time.sleep(1.2)  # the backend flushes its statistics when it exits (or within 1 s)
        files1, bytes1 = _temp_stats(observer)
        stored = observer.execute(
            text("SELECT count(*) FROM reconciliation_results WHERE recon_date = :d"), {"d": DAY}
        ).scalar_one()
        digest = observer.execute(text(RESULTS_DIGEST_SQL), {"d": DAY}).scalar_one()
    engine.dispose()
    result: dict[str, Any] = {
        "settings": settings,
        "rerun": rerun,
        "replaced_results": int(replaced),
        "reconcile_py_sha256_12": recon_sql_digest(),
        "finished": summary is not None,
        "timeout_s": timeout_s,
        "seconds": round(seconds, 2),
        "results": int(stored),
        "results_digest": digest,
        "work_mem_effective": work_mem,
        "backend": {
            "pid": pid,
            "rss_before_mb": round(before.get("VmRSS", 0) / 1024, 1),
            "vm_hwm_mb": round(after.get("VmHWM", 0) / 1024, 1),
            "rss_end_mb": round(after.get("VmRSS", 0) / 1024, 1),
            "rss_shmem_end_mb": round(after.get("RssShmem", 0) / 1024, 1),
            "peak_anon_mb": round(sampler.peak_anon_kib / 1024, 1),
            "anon_before_mb": round(before.get("RssAnon", 0) / 1024, 1),
            "parallel_workers": sampler.max_workers,
            "workers_peak_anon_mb": round(sampler.peak_workers_anon_kib / 1024, 1),
            "samples": sampler.samples,
        },
        "temp_files": files1 - files0,
        "temp_mb": round((bytes1 - bytes0) / 1024**2, 1),
    }
    if summary is not None:
        result.update(
            reconcile_day_s=round(summary.seconds, 2),
            step_seconds=summary.step_seconds,
            counts=dict(sorted(summary.counts.items())),
            by_method=dict(sorted(summary.by_method.items())),
            match_rate=round(summary.match_rate, 4),
        )
    return result


def run_pandas() -> dict[str, Any]:
    """Read both sides of the window from PostgreSQL, then outer-merge and classify in pandas."""
    import io

    import numpy as np
    import pandas as pd
    import psycopg

    win_start, day_start, day_end, win_end = window()
    columns = (
        "id, source_id, match_key, project, direction, amount, paid_amount, status, created_at"
    )
    frames: dict[str, pd.DataFrame] = {}
    copy_s = parse_s = 0.0
    started = time.perf_counter()
    with psycopg.connect(conninfo(DB_NAME)) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for source in ("vima", "payshack"):
            t0 = time.perf_counter()
            buffer = io.BytesIO()
            query = (
                f"COPY (SELECT {columns} FROM transactions WHERE source = '{source}' "
                f"AND project = ANY(ARRAY{list(PROJECTS)!r}) "
                f"AND created_at >= '{win_start.isoformat()}' "
                f"AND created_at < '{win_end.isoformat()}') TO STDOUT (FORMAT csv, HEADER)"
            )
            with conn.cursor().copy(query) as copy:
                for block in copy:
                    buffer.write(block)
            buffer.seek(0)
            t1 = time.perf_counter()
            frame = pd.read_csv(
                buffer,
                dtype={"amount": "float64", "paid_amount": "float64"},
            )
            frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
            frames[source] = frame
            del buffer
            copy_s += t1 - t0
            parse_s += time.perf_counter() - t1
    read_s = time.perf_counter() - started
    rows_read = {source: len(frame) for source, frame in frames.items()}
    v, p = frames["vima"], frames["payshack"]

    t0 = time.perf_counter()
    merged = pd.merge(
        v, p, on=["direction", "match_key"], how="outer", indicator=True, suffixes=("_v", "_p")
    )
    merge_s = time.perf_counter() - t0
    side = merged["_merge"]
    amount_diff = ((merged["amount_v"] - merged["amount_p"]).abs() > 0.01) | (
        (merged["paid_amount_v"] - merged["paid_amount_p"]).abs() > 0.01
    )
    status_diff = merged["status_v"] != merged["status_p"]
    merged["match_type"] = np.select(
        [side == "left_only", side == "right_only", amount_diff, status_diff],
        ["missing_payshack", "missing_vima", "discrepancy_amount", "discrepancy_status"],
        default="matched",
    )
    anchor = merged[["created_at_v", "created_at_p"]].min(axis=1)
    in_day = merged[(anchor >= pd.Timestamp(day_start)) & (anchor < pd.Timestamp(day_end))]
    counts = in_day["match_type"].value_counts().to_dict()
    merge_classify_s = time.perf_counter() - t0
    total_s = time.perf_counter() - started
    write_s = write_back(in_day, conninfo(DB_NAME))
    return {
        "seconds": round(total_s, 2),
        "read_s": round(read_s, 2),
        "copy_s": round(copy_s, 2),
        "parse_s": round(parse_s, 2),
        "merge_s": round(merge_s, 2),
        "merge_classify_s": round(merge_classify_s, 2),
        "write_back_s": round(write_s, 2),
        "with_write_back_s": round(total_s + write_s, 2),
        "rows_read": rows_read,
        "merged_rows": len(merged),
        "counts": {str(k): int(n) for k, n in sorted(counts.items())},
        "results": len(in_day),
        "dtypes": {c: str(t) for c, t in v.dtypes.items()},
    }


def write_back(in_day: Any, dsn: str) -> float:
    """Seconds to store the day's merged results as the hub does (one row each in
    `reconciliation_results`, through COPY), in a transaction rolled back afterwards."""
    import io

    import psycopg

    started = time.perf_counter()
    v_id, p_id = in_day["source_id_v"], in_day["source_id_p"]
    frame = in_day.assign(
        recon_date=DAY.isoformat(),
        run_id="pandas",
        discrepancy_key=("v:" + v_id.fillna("") + "|p:" + p_id.fillna("")),
    )[
        [
            "recon_date", "run_id", "match_type", "discrepancy_key", "direction",
            "source_id_v", "source_id_p", "amount_v", "amount_p", "status_v", "status_p",
        ]
    ]  # fmt: skip
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    columns = (
        "recon_date, run_id, match_type, discrepancy_key, direction, vima_txn_id, "
        "payshack_txn_id, vima_amount, payshack_amount, vima_status, payshack_status"
    )
    with psycopg.connect(dsn) as conn:
        with conn.cursor().copy(
            f"COPY reconciliation_results ({columns}) FROM STDIN (FORMAT csv)"
        ) as copy:
            copy.write(buffer.getvalue())
        seconds = time.perf_counter() - started
        conn.rollback()
    return seconds


# --------------------------------------------------------------------------- EXPLAIN


def recon_sql_digest() -> str:
    """Short digest of the reconciliation as on disk: `hub_pipelines/reconcile.py` and its
    statements, `hub_pipelines/sql/reconcile_*.sql` (they may change between runs)."""
    code = ROOT / "hub_pipelines"
    return files_digest(
        [code / "reconcile.py", *sorted((code / "sql").glob("reconcile_*.sql"))], length=12
    )


AUTO_EXPLAIN = {
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_format": "json",
    "auto_explain.log_level": "notice",
    "auto_explain.log_nested_statements": "off",
}
"""PostgreSQL's auto_explain, as `explain` sets it on its session: every statement's plan sent
to the client as a NOTICE once the statement has run."""


def _explained(message: str) -> tuple[float, dict[str, Any]] | None:
    """(duration in ms, plan) of an auto_explain NOTICE, or None for any other notice."""
    head, marker, body = message.partition("plan:\n")
    if not marker or not head.startswith("duration:"):
        return None
    plan = json.loads(body)
    return float(head.split()[1]), plan[0] if isinstance(plan, list) else plan


def _inserts_results(node: dict[str, Any]) -> bool:
    """Whether the plan under `node` inserts into `reconciliation_results` (the results
    statement's plan, told by what it does rather than by its text)."""
    if (
        node.get("Node Type") == "ModifyTable"
        and node.get("Operation") == "Insert"
        and node.get("Relation Name") == "reconciliation_results"
    ):
        return True
    return any(_inserts_results(child) for child in node.get("Plans", []))


def _label(node: dict[str, Any]) -> str:
    label = node["Node Type"]
    for key in ("Join Type", "CTE Name", "Relation Name", "Subplan Name"):
        if key in node:
            label += f" {key.split()[0].lower()}={node[key]}"
    return label


def render_plan(node: dict[str, Any], depth: int = 0) -> list[str]:
    """A compact text rendering of a JSON plan: estimated and (if analyzed) actual figures."""
    line = f"{'  ' * depth}-> {_label(node)} est_rows={node.get('Plan Rows')}"
    if "Actual Rows" in node:
        loops = node.get("Actual Loops", 1)
        line += (
            f" rows={node['Actual Rows'] * loops} loops={loops}"
            f" total_ms={node.get('Actual Total Time', 0.0) * loops:.0f}"
        )
    for key in ("Hash Cond", "Merge Cond", "Join Filter", "Filter"):
        if key in node:
            line += f" {key.lower().replace(' ', '_')}: {node[key]}"
    for key in (
        "Rows Removed by Join Filter",
        "Hash Batches",
        "Sort Method",
        "Temp Written Blocks",
    ):
        if node.get(key):
            line += f" [{key}: {node[key]}]"
    lines = [line]
    for child in node.get("Plans", []):
        lines.extend(render_plan(child, depth + 1))
    return lines


def no_plan(
    settings: dict[str, str], why: str, statements: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What `explain` returns when there is no plan of the results statement, and why."""
    unknown = dict.fromkeys(("execution_ms", "planning_ms", "jit_ms", "total_cost"))
    plan: dict[str, Any] = {"settings": settings, "analyze": False, **unknown, "slowest": []}
    plan.update(tree=[f"(no plan: {why})"], statements=statements or [])
    return plan


def explain(settings: dict[str, str], analyze: bool, timeout_s: float) -> dict[str, Any]:
    """The plan of the reconciliation's results statement as it ran, from PostgreSQL's
    auto_explain (with ANALYZE and BUFFERS when `analyze`), rolled back.

    `reconcile_day` runs unchanged, on a session that loaded auto_explain (`AUTO_EXPLAIN`):
    every statement it runs sends its plan back as a NOTICE, so parameters and session settings
    are exactly the hub's. The results statement's plan is the one that inserts into
    `reconciliation_results`. auto_explain reports a statement once it has run: a statement
    cancelled by `timeout_s` has no plan (`execution_ms` None, no tree), and there is no
    planning time (`planning_ms` None). Returns a compact rendering of the plan and, when
    analyzed, its slowest nodes by exclusive time (a node's actual total time times its
    loops, minus its children's; JIT compilation shows up in the first node it serves), and
    each explained statement's top node and duration (`statements`).
    """
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from hub_core.db import get_engine
    from hub_pipelines.reconcile import ReconParams, reconcile_day

    explained: list[tuple[float, dict[str, Any]]] = []

    def collect(diagnostic: psycopg.errors.Diagnostic) -> None:
        found = _explained(diagnostic.message_primary or "")
        if found is not None:
            explained.append(found)

    options = {
        **AUTO_EXPLAIN,
        "auto_explain.log_analyze": "on" if analyze else "off",
        "auto_explain.log_buffers": "on" if analyze else "off",
    }
    engine = get_engine(db_url(DB_NAME))
    with engine.connect() as conn:
        conn.execute(text("TRUNCATE reconciliation_results"))
        conn.commit()
        _set_all(conn, {**settings, "statement_timeout": f"{int(timeout_s * 1000)}"})
        conn.exec_driver_sql("LOAD 'auto_explain'")
        for name, value in options.items():
            conn.execute(text("SELECT set_config(:n, :v, false)"), {"n": name, "v": value})
        conn.commit()
        driver = conn.connection.driver_connection
        driver.add_notice_handler(collect)  # type: ignore[union-attr]
        trans = conn.begin()
        try:
            reconcile_day(conn, DAY, RUN_ID, ReconParams(projects=PROJECTS))
        except OperationalError as error:
            if not isinstance(error.orig, psycopg.errors.QueryCanceled):
                raise
        finally:
            trans.rollback()
            driver.remove_notice_handler(collect)  # type: ignore[union-attr]
    engine.dispose()  # the session with auto_explain loaded is not reused
    statements = [
        {"node": _label(plan["Plan"]), "duration_ms": round(ms, 1)} for ms, plan in explained
    ]
    results = [(ms, plan) for ms, plan in explained if _inserts_results(plan["Plan"])]
    if not results:
        return no_plan(settings, "the results statement did not finish", statements)
    execution_ms, plan = results[-1]
    nodes: list[dict[str, Any]] = []
    # A CTE's subplan runs inside whichever CTE Scan pulls its rows first: its time is counted
    # there, so it is not a child's time of the node it hangs under, and it is taken off the
    # CTE Scan that read it (the one with the largest time) to leave that scan's own time.
    cte_ms: dict[str, float] = {}
    driver: dict[str, tuple[float, int]] = {}

    def node_ms(node: dict[str, Any]) -> float:
        return float(node.get("Actual Total Time", 0.0)) * node.get("Actual Loops", 1)

    def survey(node: dict[str, Any]) -> None:
        name = node.get("Subplan Name", "")
        if node.get("Parent Relationship") == "InitPlan" and name.startswith("CTE "):
            cte_ms[name[4:]] = node_ms(node)
        if node["Node Type"] == "CTE Scan":
            best = driver.get(node["CTE Name"])
            if best is None or node_ms(node) > best[0]:
                driver[node["CTE Name"]] = (node_ms(node), id(node))
        for child in node.get("Plans", []):
            survey(child)

    def walk(node: dict[str, Any]) -> float:
        total = node_ms(node)
        children = 0.0
        for child in node.get("Plans", []):
            child_ms = walk(child)
            if not str(child.get("Subplan Name", "")).startswith("CTE "):
                children += child_ms
        own = total - children
        name = node.get("CTE Name")
        if node["Node Type"] == "CTE Scan" and driver.get(name, (0.0, 0))[1] == id(node):
            own = max(0.0, own - cte_ms.get(name, 0.0))
        nodes.append(
            {
                "node": _label(node),
                "exclusive_ms": round(own, 1),
                "inclusive_ms": round(total, 1),
                "est_rows": node.get("Plan Rows"),
                "rows": node.get("Actual Rows", 0) * node.get("Actual Loops", 1),
                "temp_written_blocks": node.get("Temp Written Blocks", 0),
            }
        )
        return total

    survey(plan["Plan"])
    walk(plan["Plan"])
    nodes.sort(key=lambda n: n["exclusive_ms"], reverse=True)
    jit = plan.get("JIT", {})
    return {
        "settings": settings,
        "analyze": analyze,
        "execution_ms": round(execution_ms, 1),
        "planning_ms": None,
        "jit_ms": round(jit.get("Timing", {}).get("Total", 0.0), 1) if jit else 0.0,
        "total_cost": plan["Plan"].get("Total Cost"),
        "slowest": nodes[:12] if analyze else [],
        "tree": render_plan(plan["Plan"]),
        "statements": statements,
    }


# --------------------------------------------------------------------------- report


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _hub_label(hub: dict[str, Any]) -> str:
    run = "re-run" if hub.get("rerun") else "first run"
    if not hub["settings"]:
        return f"hub `reconcile_day` as shipped, {run}"
    shown = ", ".join(f"{k}={v}" for k, v in hub["settings"].items())
    return f"hub `reconcile_day` + session `{shown}` (diagnostic), {run}"


def _hub_row(hub: dict[str, Any], shape: str) -> str:
    be = hub["backend"]
    seconds = (
        f"{hub['seconds']:.1f}"
        if hub["finished"]
        else f"DNF: cancelled at {hub['timeout_s']:.0f} s (statement_timeout)"
    )
    return (
        f"| {_hub_label(hub)} | {shape} | {seconds} | backend private peak "
        f"{_mb(be['peak_anon_mb'])} (VmHWM {_mb(be['vm_hwm_mb'])} incl. shared buffers), "
        f"temp files {_mb(hub['temp_mb'])}; Python {_mb(hub['peak_rss_mb'])} |"
    )


def report(results: dict[str, Any]) -> str:
    """The Markdown table and ratios of a run."""
    lines = [
        "| contender | rows per side: day + 2 margins | seconds | peak memory |",
        "|---|---|---|---|",
    ]
    for size in results["sizes"]:
        rows, margin = size["setup"]["rows"], size["setup"]["margin_rows"]
        shape = f"{rows:,} + 2x{margin:,}"
        for hub in size.get("hub", []):
            lines.append(_hub_row(hub, shape))
        pdr = size.get("pandas")
        if pdr:
            lines.append(
                f"| pandas merge+classify | {shape} | {pdr['merge_classify_s']:.1f} | "
                f"{_mb(pdr['peak_rss_mb'])} (process peak, incl. the read) |"
            )
            lines.append(
                f"| pandas read+merge+classify | {shape} | {pdr['seconds']:.1f} "
                f"(read {pdr['read_s']:.1f}) | {_mb(pdr['peak_rss_mb'])} |"
            )
            lines.append(
                f"| pandas read+merge+classify+write back | {shape} | "
                f"{pdr['with_write_back_s']:.1f} | {_mb(pdr['peak_rss_mb'])} |"
            )
    ratios = results.get("ratios", {})
    if ratios:
        lines.append("")
        lines.extend(f"- {name}: {value}" for name, value in ratios.items())
    return "\n".join(lines)


def ratios(full: dict[str, Any]) -> dict[str, Any]:
    """Hub runs against pandas and the targets, at full size."""
    pdr = full.get("pandas")
    out: dict[str, Any] = {}
    for hub in full.get("hub", []):
        tag = "hub" + "".join(f"[{k}={v}]" for k, v in hub["settings"].items())
        tag += " re-run" if hub.get("rerun") else ""
        if not hub["finished"]:
            out[f"{tag}: within 20 s"] = f"no (did not finish in {hub['timeout_s']:.0f} s)"
            if pdr:
                out[f"{tag} / pandas merge+classify"] = (
                    f"> {hub['timeout_s'] / pdr['merge_classify_s']:.0f}"
                )
            continue
        out[f"{tag}: within 20 s"] = "yes" if hub["seconds"] <= TARGET_SECONDS else "no"
        if pdr:
            out[f"{tag} / pandas merge+classify"] = round(
                hub["seconds"] / pdr["merge_classify_s"], 2
            )
            out[f"{tag} / pandas read+merge+classify"] = round(hub["seconds"] / pdr["seconds"], 2)
            out[f"{tag} / pandas read+merge+classify+write back"] = round(
                hub["seconds"] / pdr["with_write_back_s"], 2
            )
    return out


def _parse_settings(text_: str) -> dict[str, str]:
    """`name=value,name=value` as a dict ('' gives {})."""
    pairs = [item.split("=", 1) for item in text_.split(",") if item.strip()]
    return {name.strip(): value.strip() for name, value in pairs}


def run_hub_variants(
    variants: list[dict[str, str]], repeat: int, timeout_s: float, quiet_wait: float
) -> list[dict[str, Any]]:
    """Run the hub (as shipped, first runs then re-runs, then with each diagnostic setting
    set), median of `repeat`."""
    chosen: list[dict[str, Any]] = []
    for settings, rerun in [({}, False), ({}, True)] + [(v, False) for v in variants[1:]]:
        runs: list[dict[str, Any]] = []
        for _ in range(max(1, repeat)):
            if quiet_wait:
                wait_for_quiet(quiet_wait)
            runs.append(run_isolated(run_hub, settings, timeout_s, rerun))
            print("hub", json.dumps(runs[-1]), flush=True)
            if not runs[-1]["finished"]:
                break  # a cancelled run would only be cancelled again
        median = statistics.median(r["seconds"] for r in runs)
        best = min(runs, key=lambda r: abs(r["seconds"] - median))
        best["runs_s"] = [r["seconds"] for r in runs]
        chosen.append(best)
    return chosen


def main(argv: list[str] | None = None) -> int:
    """Parse options, load each size, run the contenders, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="day's rows per side")
    parser.add_argument("--margin-rows", type=int, default=250_000, help="rows per margin")
    parser.add_argument(
        "--flat-rows", type=int, default=250_000, help="smaller day for memory (0: skip)"
    )
    parser.add_argument("--only", choices=("hub", "pandas"))
    parser.add_argument("--repeat", type=int, default=1, help="hub runs per size (median)")
    parser.add_argument(
        "--hub-timeout", type=float, default=600.0, help="statement_timeout of a hub run (s)"
    )
    parser.add_argument(
        "--diag",
        action="append",
        default=None,
        help="also run the hub with these session settings, e.g. enable_nestloop=off,jit=off "
        "(repeatable; default: max_parallel_workers_per_gather=0; 'none' for none)",
    )
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--explain", type=Path, help="always EXPLAIN; plans to this file")
    add_quiet_wait(parser)
    parser.add_argument("--keep-db", action="store_true", help="keep bench_recon at the end")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    diag = args.diag if args.diag is not None else ["max_parallel_workers_per_gather=0"]
    variants = [{}] + [_parse_settings(d) for d in diag if d != "none"]
    digest = recon_sql_digest()
    results: dict[str, Any] = {
        "machine": machine_info(),
        "reconcile_py_sha256_12": digest,
        "sizes": [],
        "argv": sys.argv[1:],
    }
    print(json.dumps(results["machine"], indent=1), "reconcile.py", digest, flush=True)
    sizes = [args.rows]
    if args.flat_rows and args.flat_rows != args.rows:
        sizes.insert(0, args.flat_rows)
    for rows in sizes:
        margin = round(args.margin_rows * rows / args.rows)
        print(f"== setup: {rows:,} rows per side + 2x{margin:,} margin rows", flush=True)
        size: dict[str, Any] = {"setup": setup_database(rows, margin)}
        size["expected_breaks"] = expected_breaks(rows)
        print(json.dumps(size["setup"]), flush=True)
        if args.only != "pandas":
            size["hub"] = run_hub_variants(variants, args.repeat, args.hub_timeout, args.quiet_wait)
        if args.only != "hub":
            if args.quiet_wait:
                wait_for_quiet(args.quiet_wait)
            size["pandas"] = run_isolated(run_pandas)
            print("pandas", json.dumps(size["pandas"]), flush=True)
        results["sizes"].append(size)
    full = results["sizes"][-1]
    results["ratios"] = ratios(full)
    shipped = next((h for h in full.get("hub", []) if not h["settings"] and h["rerun"]), None)
    missed = shipped is not None and (
        not shipped["finished"] or shipped["seconds"] > TARGET_SECONDS
    )
    if args.explain or missed:
        plans = []
        # The shipped plan (auto_explain reports a statement once it has run: none for a run
        # that was cancelled), then the diagnostic variants'.
        if shipped is None or shipped["finished"]:
            plans.append(explain({}, analyze=True, timeout_s=args.hub_timeout))
        else:
            plans.append(no_plan({}, f"the shipped run did not finish in {args.hub_timeout} s"))
        for settings in variants[1:]:
            plans.append(explain(settings, analyze=True, timeout_s=args.hub_timeout))
        results["explain"] = plans
        for plan in plans:
            print(f"== EXPLAIN settings={plan['settings']} analyze={plan['analyze']}", flush=True)
            print("\n".join(plan["tree"]), flush=True)
            print(json.dumps({k: v for k, v in plan.items() if k != "tree"}, indent=1), flush=True)
        if args.explain:
            args.explain.write_text(
                "\n\n".join(
                    f"-- settings={p['settings']} analyze={p['analyze']} "
                    f"execution_ms={p['execution_ms']} jit_ms={p['jit_ms']}\n"
                    + "\n".join(p["tree"])
                    for p in plans
                )
                + "\n"
            )
    if recon_sql_digest() != digest:
        results["warning"] = "hub_pipelines/reconcile.py changed during the run"
        print("WARNING:", results["warning"], flush=True)
    print(report(results), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if not args.keep_db:
        drop_database(DB_NAME)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
