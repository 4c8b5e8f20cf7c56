"""REST API benchmark (issue 7): latency of the real `hub_api` under load, and exports.

PREPARE (idempotent; skipped when the database already holds this data set, unless
`--regenerate`): the database `hub_bench_api` (`hub_bench_api_small` when `--rows` is not the
default) is created and migrated to head with `hub_core.migrate.upgrade`, the monthly
partitions of `transactions` created with `hub_core.db.ensure_month_partitions`, and `--rows`
transactions (default 10,000,000) generated inside PostgreSQL (`INSERT ... SELECT ... FROM
generate_series`, one statement and one commit per day, all of the table's indexes in place)
over the 90 days ending yesterday (UTC). Distributions: vima 55 % / payshack 45 %, 6 projects
(30/25/15/12/10/8 %), payin 80 %, success 70 % / failed 20 % / pending 8 % / refunded 2 %, INR,
log-normal amounts clamped to 100..100,000 (median ~1,100), a daily cycle (busiest ~14:00 UTC,
~4x the quietest hour) and a weekly one, 500,000 users (e-mail on every row, a phone for 60 % of
the users), a 12-digit UTR on 70 % of the rows, unique provider ids (`op-<n>`, `ps-<n>`) and
order ids (`ord-<n>` in `match_key`). Then the real `hub_pipelines.metrics.
refresh_hourly_metrics(conn, day, "UTC")` for each day, one day of reconciliation results (the
day before the last: 1 % of `--rows`, i.e. 100,000, one per transaction of that day, 90 %
matched, the rest amount/status discrepancies, missing on either side and duplicates, 10 % of
the breaks resolved) and `VACUUM ANALYZE`. The timings of each step are stored with the data
set (`COMMENT ON DATABASE`) and reported by every run. Every run also migrates to head (a no-op
when nothing is new) and compares tables and indexes with those of a freshly migrated empty
database, creating what the data set lacks and dropping indexes the migrations no longer make
(the checkout is shared and a migration may be edited in place).

SERVER: the real app, `uvicorn hub_api.main:app --workers N` (default 2) in its own process
group, with `DATABASE_URL` pointing at the data set, `REDIS_URL` db 13, one operator key, the
rate limit off (`HUB_API_RATE_LIMIT_PER_MINUTE=0`), `HUB_LOG_LEVEL=WARNING` and no access log.

LOAD: a spawned process runs closed-loop clients (threads, one keep-alive `httpx.Client` each):
every client sends its next request as soon as the previous answer is read. Each scenario runs
at every `--concurrency` level (default 1 and 4 clients: the service time alone, and the
latency under a steady load that keeps the 2 cores busy): `--warmup` (20) untimed requests,
then `--requests` (300) timed ones, each phase within `--max-seconds` (120; a slower scenario
reports the requests it made). Latency = from sending the request to having read the whole
body, in the load process; only HTTP 200 answers enter the percentiles; a request times out
after `--timeout` (30 s), and the statements still running for abandoned requests are
cancelled (`pg_cancel_backend`, only in the benchmark's database) before the next run.
Scenarios: list page 1 with filters, a keyset page deep in the set (the cursor reached after
following `meta.next_cursor` 200 pages, one client; the walk itself is reported too), a keyset
page in the middle of the 90 days (cursor made with `hub_core.queries.transactions.
encode_cursor`), `page=1000` with offset, search by order id / UTR / e-mail, detail by id, the
30-day overview uncached (`INCR hub:data_version` in Redis before each request: every key
misses) and cached (same request repeated), hourly trends over 7 days (uncached and cached)
and the discrepancies of the results' day. A scenario that answers anything but 200 is
reported with its status codes and first error bodies and the run goes on.

DIRECT: from this process, the same aggregations run with SQLAlchemy straight on
`transactions` (no `hourly_metrics`) and on `hourly_metrics`: the 30-day overview (one `GROUP BY
status, source, currency` over the 30 days and the 30 before) and the 7-day hourly trend, with
the server's settings and again with JIT off; ratios against the endpoints' uncached p50.

EXPORT: `GET /export/transactions?format=csv|xlsx` over the last days of the data set holding
about `--export-rows` (1,000,000), streamed by the client to /dev/null (XLSX to a temp file, its
rows counted in the sheet XML afterwards), against a freshly started server (one worker) so that
the worker's VmHWM is the peak of that export; VmRSS of the server process is sampled every
50 ms too. XLSX is probed on one day first: when `--export-rows` would take more than
`--xlsx-max-seconds` (300), fewer days are exported and the result says so.

Results: a JSON file under `bench/results/` (rewritten after every run, so an interrupted run
keeps what it measured) and tables on stdout.

Run: `.venv/bin/python bench/api.py [--rows 10000000] [--requests 300] [--concurrency 1,4]
[--only PART ...] [--prepare-only] [--regenerate] [--quiet-wait S] [--json FILE]`; `--help`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    HUB_CODE,
    ROOT,
    Sampler,
    add_quiet_wait,
    children_of,
    code_version,
    conninfo,
    db_url,
    drop_database,
    files_digest,
    machine_basics,
    migrate,
    percentile,
    pg_settings,
    proc_cpu_s,
    proc_status,
    run_isolated,
    say,
    summarize_ms,
    wait_for_quiet,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_ROWS = 10_000_000
DEFAULT_DB = "hub_bench_api"
SMALL_DB = "hub_bench_api_small"
SCHEMA_DB = "hub_bench_api_schema"
DAYS = 90
GEN_VERSION = 1
"""Bumped whenever the generator changes: a data set of another version is regenerated."""
SEED = 0.42
RECON_SHARE = 0.01
"""Reconciliation results of the results' day, as a share of `--rows` (100,000 at 10M)."""
RESOLVED_SHARE = 0.10
API_KEY = "bench-key"
REDIS_DB = 13
DATA_VERSION_KEY = "hub:data_version"
KEYSET_WALK_PAGES = 200
SAMPLE_EVERY = 0.05
CODE_DIRS = ("hub_api", *HUB_CODE)  # hub_core/migrations/ included

TARGETS_MS = {  # p95 targets of the issue, in ms
    "list_filtered": 50.0,
    "keyset_deep": 50.0,
    "keyset_mid": 50.0,
    "offset_page_1000": 50.0,
    "search_order_id": 50.0,
    "search_utr": 50.0,
    "search_email": 50.0,
    "detail": 50.0,
    "overview_30d_cached": 5.0,
    "overview_30d_uncached": 150.0,
}
TARGET_CSV_ROWS_S = 100_000
TARGET_CSV_PEAK_MB = 200.0

PROJECTS = (  # (name, cumulative share)
    ("91game", 0.30),
    ("caroussel", 0.55),
    ("lotto7", 0.70),
    ("rummyking", 0.82),
    ("cricstar", 0.92),
    ("teenpatti", 1.00),
)

# --------------------------------------------------------------------------- helpers


def database_exists(name: str) -> bool:
    """Whether the database `name` exists on the server."""
    import psycopg

    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def read_dataset_meta(name: str) -> dict[str, Any] | None:
    """The data set's description stored as the database comment, or None."""
    import psycopg

    if not database_exists(name):
        return None
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if not row or not row[0]:
        return None
    try:
        meta = json.loads(row[0])
    except json.JSONDecodeError:
        return None
    return meta if isinstance(meta, dict) else None


def write_dataset_meta(name: str, meta: dict[str, Any]) -> None:
    """Store the data set's description as the database comment."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(json.dumps(meta, sort_keys=True))
            )
        )


def git_info() -> dict[str, Any]:
    """The commit measured and whether the API/core code differs from it (shared checkout)."""
    return {**code_version(CODE_DIRS, with_files=True), "code_sha256": code_fingerprint()}


def code_fingerprint() -> str:
    """sha256 (first 16 hex digits) of the hub's Python sources and migrations as they are on
    disk: what a server started now runs, committed or not (the checkout is shared)."""
    return files_digest(p for d in CODE_DIRS for p in sorted((ROOT / d).rglob("*.py")))


# --------------------------------------------------------------------------- data set


def day_counts(rows: int, days: int = DAYS) -> list[int]:
    """Rows per day: a weekly cycle (+-12 %) and a slow growth (+10 % over the period)."""
    weights = [
        1 + 0.12 * math.sin(2 * math.pi * d / 7) + 0.10 * d / max(1, days - 1) for d in range(days)
    ]
    total = sum(weights)
    counts = [int(rows * w / total) for w in weights]
    for i in range(rows - sum(counts)):
        counts[-1 - (i % days)] += 1
    return counts


def _project_case(column: str) -> str:
    branches = " ".join(f"WHEN {column} < {share} THEN '{name}'" for name, share in PROJECTS[:-1])
    return f"CASE {branches} ELSE '{PROJECTS[-1][0]}' END"


GEN_DAY_SQL = f"""
INSERT INTO transactions (
    id, source, source_id, reference_id, client_operation_id, order_id, match_key, project,
    merchant_id, direction, amount, paid_amount, currency, fee, status, original_status,
    user_id, user_email, user_phone, user_name, country, utr, payment_method, payment_product,
    created_at, updated_at, completed_at, raw_data, data_hash
)
SELECT gen_random_uuid(), src,
       CASE WHEN src = 'vima' THEN 'op-' ELSE 'ps-' END || n,
       CASE WHEN src = 'payshack' THEN 'sp' || (n * 7 + 3) END,
       CASE WHEN src = 'vima' THEN 'ord-' || n END,
       CASE WHEN src = 'payshack' THEN 'ord-' || n END,
       'ord-' || n,
       project, 'm-' || project, direction, amount,
       CASE WHEN status = 'success' THEN amount END,
       'INR',
       CASE WHEN status = 'success' THEN round(amount * 0.018, 2) END,
       status,
       CASE WHEN src = 'vima' THEN upper(status) ELSE initcap(status) END,
       'u' || uid, 'user' || uid || '@example.com',
       CASE WHEN uid %% 10 < 6 THEN '9' || lpad(((uid * 7919) %% 1000000000)::text, 9, '0') END,
       'User ' || uid, 'IN',
       CASE WHEN r_utr < 0.7 THEN lpad(floor(r_utr2 * 1e12)::bigint::text, 12, '0') END,
       CASE WHEN direction = 'payout' THEN 'IMPS' WHEN r_pm < 0.85 THEN 'UPI' ELSE 'CARD' END,
       NULL,
       created_at, coalesce(completed_at, created_at), completed_at,
       jsonb_build_object(
           'id', CASE WHEN src = 'vima' THEN 'op-' ELSE 'ps-' END || n,
           'order_id', 'ord-' || n, 'amount', amount::text,
           'status', CASE WHEN src = 'vima' THEN upper(status) ELSE initcap(status) END,
           'project', project, 'created', created_at),
       md5(src || n)
FROM (
    SELECT n, src, project, direction, status, uid, r_utr, r_utr2, r_pm, amount, created_at,
           CASE WHEN status <> 'pending'
                THEN created_at + (2 + exp(r_lag * 5)) * interval '1 second' END AS completed_at
    FROM (
        SELECT n,
               CASE WHEN r_src < 0.55 THEN 'vima' ELSE 'payshack' END AS src,
               {_project_case("r_proj")} AS project,
               CASE WHEN r_dir < 0.8 THEN 'payin' ELSE 'payout' END AS direction,
               CASE WHEN r_st < 0.70 THEN 'success' WHEN r_st < 0.90 THEN 'failed'
                    WHEN r_st < 0.98 THEN 'pending' ELSE 'refunded' END AS status,
               floor(r_user * 500000)::bigint AS uid,
               r_utr, r_utr2, r_pm, r_lag,
               round(least(100000, greatest(100,
                   exp(7.0 + 1.1 * sqrt(-2 * ln(1 - u1)) * cos(2 * pi() * u2))))::numeric, 2)
                   AS amount,
               %(day_start)s::timestamptz + interval '1 day' * (
                   (u_t + 0.6 * sin(2 * pi() * u_t) / (2 * pi()) + 0.1)
                   - floor(u_t + 0.6 * sin(2 * pi() * u_t) / (2 * pi()) + 0.1)) AS created_at
        FROM (
            SELECT n, random() AS r_src, random() AS r_proj, random() AS r_dir,
                   random() AS r_st, random() AS r_user, random() AS r_utr,
                   random() AS r_utr2, random() AS r_pm, random() AS r_lag,
                   random() AS u1, random() AS u2, random() AS u_t
            FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
            OFFSET 0
        ) AS r
        OFFSET 0
    ) AS g
    OFFSET 0
) AS t
"""

RECON_SQL = """
INSERT INTO reconciliation_results (
    recon_date, run_id, match_type, match_method, discrepancy_key, project, direction,
    currency, client_operation_id, order_id, vima_txn_id, payshack_txn_id, vima_amount,
    payshack_amount, amount_diff, vima_status, payshack_status, details
)
SELECT %(day)s, 'bench', mt,
       CASE WHEN mt IN ('matched', 'discrepancy_amount', 'discrepancy_status')
            THEN CASE WHEN r2 < 0.99 THEN 'exact' ELSE 'fallback' END END,
       CASE mt
           WHEN 'missing_payshack' THEN 'v:' || vid
           WHEN 'missing_vima' THEN 'p:' || pid
           WHEN 'duplicate' THEN 'dup:' || source || ':' || source_id
           ELSE 'v:' || vid || '|p:' || pid
       END,
       project, direction, 'INR',
       CASE WHEN vid IS NOT NULL THEN match_key END,
       CASE WHEN pid IS NOT NULL THEN match_key END,
       vid, pid, v_amount, p_amount, v_amount - p_amount, v_status, p_status,
       CASE WHEN mt = 'matched' AND r2 < 0.99 THEN '{}'::jsonb
            WHEN mt = 'duplicate'
                THEN jsonb_build_object(
                    'key', match_key,
                    'vima_rows', CASE WHEN source = 'vima' THEN 2 ELSE 0 END,
                    'payshack_rows', CASE WHEN source = 'vima' THEN 0 ELSE 2 END)
            ELSE jsonb_build_object('vima_paid_amount', v_amount, 'payshack_paid_amount',
                                    p_amount, 'created_gap_seconds', 1 + floor(r2 * 60))
       END
FROM (
    SELECT x.*,
           CASE WHEN source = 'vima' THEN source_id
                WHEN mt NOT IN ('missing_vima', 'duplicate') THEN 'op-x' || source_id END AS vid,
           CASE WHEN source = 'payshack' THEN source_id
                WHEN mt NOT IN ('missing_payshack', 'duplicate') THEN 'ps-x' || source_id
           END AS pid,
           CASE WHEN source = 'vima' THEN amount
                WHEN mt IN ('missing_vima', 'duplicate') THEN NULL
                WHEN mt = 'discrepancy_amount' THEN amount + 1 + floor(r2 * 500)
                ELSE amount END AS v_amount,
           CASE WHEN source = 'payshack' THEN amount
                WHEN mt IN ('missing_payshack', 'duplicate') THEN NULL
                WHEN mt = 'discrepancy_amount' THEN amount + 1 + floor(r2 * 500)
                ELSE amount END AS p_amount,
           CASE WHEN source = 'vima' THEN status
                WHEN mt IN ('missing_vima', 'duplicate') THEN NULL
                WHEN mt = 'discrepancy_status'
                    THEN CASE WHEN status = 'success' THEN 'failed' ELSE 'success' END
                ELSE status END AS v_status,
           CASE WHEN source = 'payshack' THEN status
                WHEN mt IN ('missing_payshack', 'duplicate') THEN NULL
                WHEN mt = 'discrepancy_status'
                    THEN CASE WHEN status = 'success' THEN 'pending' ELSE 'success' END
                ELSE status END AS p_status
    FROM (
        SELECT s.*,
               CASE WHEN r < 0.90 THEN 'matched'
                    WHEN r < 0.925 THEN 'discrepancy_amount'
                    WHEN r < 0.95 THEN 'discrepancy_status'
                    WHEN r < 0.99 THEN CASE WHEN source = 'vima' THEN 'missing_payshack'
                                            ELSE 'missing_vima' END
                    ELSE 'duplicate' END AS mt
        FROM (
            SELECT source, source_id, match_key, project, direction, amount, status,
                   random() AS r, random() AS r2
            FROM transactions
            WHERE created_at >= %(start)s AND created_at < %(end)s
            ORDER BY data_hash
            LIMIT %(limit)s
        ) AS s
    ) AS x
) AS y
"""

RESOLVE_SQL = """
INSERT INTO discrepancy_resolutions (discrepancy_key, resolved, resolved_by, resolved_at, note)
SELECT discrepancy_key, true, 'bench', now(), 'checked by the benchmark'
FROM reconciliation_results
WHERE recon_date = %(day)s AND match_type <> 'matched' AND random() < %(share)s
ON CONFLICT (discrepancy_key) DO NOTHING
"""


def _fetch_all(name: str, sql: str) -> list[tuple[Any, ...]]:
    """Every row `sql` returns in the database `name`."""
    import psycopg

    with psycopg.connect(conninfo(name), autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def index_definitions(name: str) -> dict[str, str]:
    """Index name -> definition (schema-qualified names stripped) of the parent tables."""
    rows = _fetch_all(
        name,
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.schemaname = 'public' AND NOT EXISTS ("
        "  SELECT 1 FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid"
        "  WHERE c.relname = i.tablename)",
    )
    return {str(n): str(d).replace("public.", "") for n, d in rows}


def table_columns(name: str) -> dict[str, list[str]]:
    """Table -> its columns with their types (parent tables of `public`)."""
    rows = _fetch_all(
        name,
        "SELECT c.relname, a.attname || ' ' || format_type(a.atttypid, a.atttypmod) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "ORDER BY c.relname, a.attnum",
    )
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(str(table), []).append(str(column))
    return tables


def sync_schema(name: str) -> dict[str, Any]:
    """Bring the data set's schema to what the migrations make now.

    Migrates `name` to head, then compares it with a freshly migrated empty database: a table
    it lacks is copied over (`pg_dump --schema-only --table`), an index it lacks (or defined
    otherwise) is created and one the migrations no longer make is dropped; columns that
    differ are reported, not changed (a migration edited in place after the data set was
    made).
    """
    import psycopg

    migrate(db_url(name))
    drop_database(SCHEMA_DB)
    migrate(db_url(SCHEMA_DB))
    try:
        want_tables = table_columns(SCHEMA_DB)
        have_tables = table_columns(name)
        missing_tables = sorted(set(want_tables) - set(have_tables))
        for table in missing_tables:
            say(f"schema: creating table {table} (missing from the data set)")
            dump = subprocess.run(
                ["pg_dump", "--schema-only", "--no-owner", "--table", table, conninfo(SCHEMA_DB)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            subprocess.run(
                ["psql", "-q", "-v", "ON_ERROR_STOP=1", conninfo(name)],
                input=dump,
                capture_output=True,
                text=True,
                check=True,
            )
        want = index_definitions(SCHEMA_DB)
    finally:
        drop_database(SCHEMA_DB)
    have = index_definitions(name)
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    changed = sorted(n for n in set(want) & set(have) if want[n] != have[n])
    if missing or changed or extra:
        with psycopg.connect(conninfo(name), autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            for index in extra:
                say(f"schema: dropping index {index} (a fresh migration has no such index)")
                conn.execute(f'DROP INDEX "{index}"')
            for index in missing + changed:
                say(f"schema: creating index {index} (missing from the data set or changed)")
                if index in changed:
                    conn.execute(f'DROP INDEX "{index}"')
                conn.execute(want[index])
            conn.execute("ANALYZE")
    have_tables = table_columns(name)
    differing = sorted(t for t in want_tables if want_tables[t] != have_tables.get(t))
    if differing:
        say(f"schema: columns differ from a fresh migration in {differing} (left as they are)")
    return {
        "created_tables": missing_tables,
        "created_indexes": missing + changed,
        "dropped_indexes": extra,
        "tables_with_other_columns": differing,
        "indexes": len(want),
    }


def prepare(name: str, rows: int, regenerate: bool) -> dict[str, Any]:
    """Make sure `name` holds the data set of `rows` rows (generating it if needed).

    Returns the data set's description, with the preparation's timings.
    """
    meta = read_dataset_meta(name)
    if (
        not regenerate
        and meta is not None
        and meta.get("complete")
        and meta.get("rows") == rows
        and meta.get("version") == GEN_VERSION
    ):
        say(f"data set {name}: {rows:,} rows from {meta['first_day']} to {meta['last_day']}")
        meta["schema"] = sync_schema(name)
        return meta
    return generate(name, rows)


def generate(name: str, rows: int) -> dict[str, Any]:
    """Drop and create `name`, migrate, generate the rows, metrics, results; VACUUM ANALYZE."""
    import psycopg

    from hub_core.db import ensure_month_partitions, get_engine
    from hub_core.timeutil import day_bounds
    from hub_pipelines.metrics import refresh_hourly_metrics

    disk = subprocess.run(
        ["df", "-h", "/work", "/var/lib/postgresql"], capture_output=True, text=True, check=False
    ).stdout
    say(f"disk before generating:\n{disk}")
    started = time.perf_counter()
    last_day = datetime.now(UTC).date() - timedelta(days=1)
    first_day = last_day - timedelta(days=DAYS - 1)
    recon_day = last_day - timedelta(days=1)
    steps: dict[str, float] = {}

    t0 = time.perf_counter()
    drop_database(name)
    migrate(db_url(name))
    url = db_url(name)
    engine = get_engine(url)
    with engine.begin() as conn:
        partitions = ensure_month_partitions(conn, first_day, last_day)
    steps["create_migrate_s"] = round(time.perf_counter() - t0, 2)
    say(f"{name}: migrated, partitions {', '.join(partitions)}")

    t0 = time.perf_counter()
    counts = day_counts(rows)
    first = 1
    with psycopg.connect(conninfo(name)) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET jit = off")
        for index, count in enumerate(counts):
            day = first_day + timedelta(days=index)
            day_t0 = time.perf_counter()
            conn.execute("SELECT setseed(%s)", (SEED * (index + 1) / (DAYS + 1),))
            conn.execute(
                GEN_DAY_SQL,
                {"day_start": day_bounds(day)[0], "first": first, "last": first + count - 1},
            )
            conn.commit()
            first += count
            elapsed = time.perf_counter() - t0
            say(
                f"  {day} {count:,} rows in {time.perf_counter() - day_t0:.1f} s "
                f"({first - 1:,}/{rows:,}, {elapsed:.0f} s, "
                f"{(first - 1) / elapsed:,.0f} rows/s)"
            )
    steps["generate_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    metric_rows = 0
    for index in range(DAYS):
        with engine.begin() as sa_conn:
            metric_rows += refresh_hourly_metrics(sa_conn, first_day + timedelta(days=index), "UTC")
    steps["hourly_metrics_s"] = round(time.perf_counter() - t0, 2)
    say(f"hourly_metrics: {metric_rows:,} rows in {steps['hourly_metrics_s']} s")

    t0 = time.perf_counter()
    start, end = day_bounds(recon_day)
    with psycopg.connect(conninfo(name)) as conn:
        conn.execute("SELECT setseed(%s)", (SEED,))
        recon_rows = conn.execute(
            RECON_SQL,
            {"day": recon_day, "start": start, "end": end, "limit": int(rows * RECON_SHARE)},
        ).rowcount
        resolved = conn.execute(RESOLVE_SQL, {"day": recon_day, "share": RESOLVED_SHARE}).rowcount
        conn.commit()
    steps["reconciliation_s"] = round(time.perf_counter() - t0, 2)
    say(f"reconciliation_results: {recon_rows:,} rows of {recon_day}, {resolved:,} resolved")

    t0 = time.perf_counter()
    with psycopg.connect(conninfo(name), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        parts = conn.execute(
            "SELECT sum(pg_table_size(inhrelid)), sum(pg_indexes_size(inhrelid)) "
            "FROM pg_inherits WHERE inhparent = 'transactions'::regclass"
        ).fetchone()
    steps["vacuum_analyze_s"] = round(time.perf_counter() - t0, 2)
    engine.dispose()

    meta = {
        "version": GEN_VERSION,
        "rows": rows,
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "recon_day": recon_day.isoformat(),
        "recon_rows": recon_rows,
        "resolved": resolved,
        "hourly_metrics_rows": metric_rows,
        "database_bytes": int(size[0]) if size else None,
        "transactions_table_bytes": int(parts[0]) if parts and parts[0] else None,
        "transactions_index_bytes": int(parts[1]) if parts and parts[1] else None,
        "prepare_steps_s": steps,
        "prepare_s": round(time.perf_counter() - started, 2),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "complete": True,
    }
    write_dataset_meta(name, meta)
    say(f"data set {name} ready in {meta['prepare_s']:.0f} s: {json.dumps(steps)}")
    meta["schema"] = sync_schema(name)
    return meta


def sample_rows(name: str, rows: int, count: int = 2000) -> list[dict[str, Any]]:
    """`count`-ish random transactions (ids, order ids, UTRs, e-mails), row-level sample."""
    import psycopg
    from psycopg.rows import dict_row

    pct = min(100.0, 100.0 * count * 1.5 / max(1, rows))
    with psycopg.connect(conninfo(name), row_factory=dict_row) as conn:
        picked = conn.execute(
            f"SELECT id::text, match_key, utr, user_email, created_at FROM transactions "
            f"TABLESAMPLE BERNOULLI ({pct}) REPEATABLE (42) LIMIT {count}"
        ).fetchall()
    return list(picked)


def mid_cursor(name: str, at: datetime) -> str:
    """A `created_at desc` keyset cursor just after the newest row before `at`, made with the
    hub's own encoder (what `meta.next_cursor` holds)."""
    import psycopg
    from psycopg.rows import dict_row

    from hub_core.queries.transactions import encode_cursor

    with psycopg.connect(conninfo(name), row_factory=dict_row) as conn:
        row = conn.execute(
            "SELECT id::text AS id, created_at FROM transactions WHERE created_at < %s "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (at,),
        ).fetchone()
    if row is None:
        raise RuntimeError("no row before the middle of the data set")
    return encode_cursor("created_at", "desc", row)


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ApiServer:
    """`uvicorn hub_api.main:app` on a free port, in a process group of its own."""

    def __init__(self, database: str, workers: int, redis_db: int, log_path: Path) -> None:
        self.database = database
        self.workers = workers
        self.redis_db = redis_db
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/api/v1"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.code_sha256 = ""

    @property
    def redis_url(self) -> str:
        """The Redis database the API caches in."""
        return f"redis://127.0.0.1:6379/{self.redis_db}"

    def env(self) -> dict[str, str]:
        """The server's environment: the hub settings of the benchmark."""
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": db_url(self.database),
                "REDIS_URL": self.redis_url,
                "HUB_API_KEYS": f"{API_KEY}:operator",
                "HUB_API_RATE_LIMIT_PER_MINUTE": "0",
                "HUB_LOG_LEVEL": "WARNING",
                # nothing listens there: /health reports Dagster down fast, nothing else uses it
                "DAGSTER_GRAPHQL_URL": "http://127.0.0.1:9/graphql",
            }
        )
        return env

    def command(self) -> list[str]:
        """The uvicorn command line."""
        return [
            str(VENV_BIN / "uvicorn"),
            "hub_api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    def start(self, timeout: float = 90.0) -> None:
        """Start the server and wait until `/health` answers."""
        import httpx

        self.code_sha256 = code_fingerprint()
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"uvicorn exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                answer = httpx.get(f"{self.base_url}/health", timeout=5)
                if answer.status_code in (200, 503):
                    if self.workers > 1 and len(self.worker_pids()) < self.workers:
                        time.sleep(0.2)
                        continue
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"the API did not answer /health in {timeout:.0f} s; see {self.log_path}"
        )

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the workers, or the server itself with one worker."""
        if self.process is None:
            return []
        if self.workers == 1:
            return [self.process.pid]
        return children_of(self.process.pid)

    def cpu_s(self) -> float:
        """CPU seconds used so far by the server and its workers."""
        if self.process is None:
            return 0.0
        return sum(proc_cpu_s(pid) for pid in {self.process.pid, *self.worker_pids()})

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


@contextmanager
def running_server(
    database: str, workers: int, redis_db: int, log_path: Path
) -> Iterator[ApiServer]:
    """An `ApiServer` started for the block and stopped after it."""
    server = ApiServer(database, workers, redis_db, log_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- the load


def _error_text(response: Any) -> str:
    try:
        return response.text[:500]
    except Exception as exc:  # a body that cannot be decoded
        return f"<{type(exc).__name__}>"


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Body of the load process: closed-loop clients sending `spec`'s requests.

    `spec`: base_url, concurrency, warmup, requests, and either `targets` (a list of (path,
    params) cycled through) or `walk` (one client follows `meta.next_cursor` that many pages).
    With `bump_version`, Redis `INCR hub:data_version` precedes every request (untimed).
    """
    import httpx
    import redis

    headers = {"X-API-Key": API_KEY}
    base = spec["base_url"]
    if "walk" in spec:
        return _walk(base, headers, spec)
    targets: list[tuple[str, dict[str, Any]]] = spec["targets"]
    bump = spec.get("bump_version", False)
    lock = threading.Lock()
    counter: dict[str, float] = {"next": 0, "deadline": 0.0, "offset": spec.get("offset", 0)}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    sizes: list[int] = []

    def client_loop(total: int, record: bool) -> None:
        rds = redis.Redis.from_url(spec["redis_url"]) if bump else None
        with httpx.Client(base_url=base, headers=headers, timeout=spec["timeout"]) as client:
            while True:
                with lock:
                    index = int(counter["next"])
                    if index >= total or time.perf_counter() > counter["deadline"]:
                        return
                    counter["next"] = index + 1
                path, params = targets[(int(counter["offset"]) + index) % len(targets)]
                if rds is not None:
                    rds.incr(DATA_VERSION_KEY)
                start = time.perf_counter()
                try:
                    response = client.get(path, params=params)
                    body = response.content
                    elapsed = time.perf_counter() - start
                    code = response.status_code
                except httpx.HTTPError as exc:
                    elapsed, code, body = time.perf_counter() - start, -1, b""
                    response = None
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                if not record:
                    continue
                with lock:
                    statuses[code] = statuses.get(code, 0) + 1
                    if code == 200:
                        latencies.append(elapsed)
                        sizes.append(len(body))
                    elif response is not None and len(errors) < 3:
                        errors.append(f"{code} {path} {params}: {_error_text(response)}")

    def phase(total: int, record: bool) -> float:
        counter["next"] = 0
        counter["deadline"] = time.perf_counter() + spec["max_seconds"]
        threads = [
            threading.Thread(target=client_loop, args=(total, record))
            for _ in range(spec["concurrency"])
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - start

    phase(spec["warmup"], record=False)
    errors.clear()
    counter["offset"] += spec["warmup"]  # the timed requests take targets the warm-up did not
    wall = phase(spec["requests"], record=True)
    done = sum(statuses.values())
    result: dict[str, Any] = {
        "requests": done,
        "requests_planned": spec["requests"],
        "ok": len(latencies),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "wall_s": round(wall, 3),
        "throughput_rps": round(done / wall, 1) if wall else None,
        "mean_body_bytes": round(statistics.fmean(sizes)) if sizes else None,
        "errors": errors[:3],
    }
    if done < spec["requests"]:
        result["stopped"] = f"time budget of {spec['max_seconds']:g} s per phase reached"
    if latencies:
        result.update(summarize_ms(latencies))
    return result


def _walk(base: str, headers: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    """Follow `meta.next_cursor` from page 1 for `spec['walk']` pages, timing every page."""
    import httpx

    latencies: list[float] = []
    cursor: str | None = None
    errors: list[str] = []
    with httpx.Client(base_url=base, headers=headers, timeout=spec["timeout"]) as client:
        for _ in range(spec["walk"]):
            params = dict(spec["params"])
            if cursor:
                params["cursor"] = cursor
            start = time.perf_counter()
            try:
                response = client.get(spec["path"], params=params)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                break
            body = response.content
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                errors.append(f"{response.status_code}: {_error_text(response)}")
                break
            latencies.append(elapsed)
            cursor = json.loads(body).get("meta", {}).get("next_cursor")
            if not cursor:
                errors.append("no meta.next_cursor")
                break
    result: dict[str, Any] = {
        "requests": len(latencies) + (1 if errors else 0),
        "requests_planned": spec["walk"],
        "ok": len(latencies),
        "pages_followed": len(latencies),
        "cursor": cursor,
        "wall_s": round(sum(latencies), 3),
        "errors": errors,
        "statuses": {"200": len(latencies)} if latencies else {},
    }
    if latencies:
        result.update(summarize_ms(latencies))
        # the first 10 pages against the last 10: does a deeper cursor cost more?
        result["first10_p50_ms"] = round(percentile(latencies[:10], 50) * 1000, 2)
        result["last10_p50_ms"] = round(percentile(latencies[-10:], 50) * 1000, 2)
    return result


def load_in_process(spec: dict[str, Any], server: ApiServer) -> dict[str, Any]:
    """`run_load(spec)` in a spawned process (`_common.run_isolated`: the load before and the
    machine's busy share); adds the server's CPU over the run."""
    server_cpu = server.cpu_s()
    payload = run_isolated(run_load, spec)
    payload["server_cpu_s"] = round(server.cpu_s() - server_cpu, 2)
    if payload.get("ok"):
        payload["server_cpu_ms_per_request"] = round(
            1000 * payload["server_cpu_s"] / payload["ok"], 2
        )
    return payload


# --------------------------------------------------------------------------- scenarios


def redis_client(redis_db: int) -> Any:
    """A Redis client on the API's cache database."""
    import redis

    return redis.Redis.from_url(f"redis://127.0.0.1:6379/{redis_db}")


def data_version(redis_db: int) -> str | None:
    """The current `hub:data_version` (None when unset)."""
    value = redis_client(redis_db).get(DATA_VERSION_KEY)
    return value.decode() if value else None


def build_scenarios(
    meta: dict[str, Any], picks: list[dict[str, Any]], cursor_mid: str | None
) -> dict[str, dict[str, Any]]:
    """Every latency scenario: its requests (cycled through) and how it is run."""
    last = date.fromisoformat(meta["last_day"])
    recon = meta["recon_day"]
    ids = [p["id"] for p in picks]
    keys = [p["match_key"] for p in picks if p["match_key"]]
    utrs = [p["utr"] for p in picks if p["utr"]]
    emails = [p["user_email"] for p in picks if p["user_email"]]
    overview = {"from_date": (last - timedelta(days=29)).isoformat(), "to_date": last.isoformat()}
    trends = {
        "granularity": "hour",
        "from_date": (last - timedelta(days=6)).isoformat(),
        "to_date": last.isoformat(),
    }
    listed = {
        "source": "vima",
        "status": "success",
        "from_date": (last - timedelta(days=7)).isoformat(),
        "to_date": last.isoformat(),
        "limit": 50,
    }
    scenarios: dict[str, dict[str, Any]] = {
        "list_filtered": {
            "what": "GET /transactions?source=vima&status=success&from_date=d-7&to_date=d"
            "&limit=50 (page 1, newest first)",
            "targets": [("/transactions", listed)],
        },
        "keyset_walk": {
            "what": f"one client follows meta.next_cursor from page 1, {KEYSET_WALK_PAGES} "
            "pages of 50, no filter (per page latency; no concurrency)",
            "walk": KEYSET_WALK_PAGES,
            "path": "/transactions",
            "params": {"limit": 50},
        },
        "keyset_deep": {
            "what": f"GET /transactions?limit=50&cursor=<cursor of page {KEYSET_WALK_PAGES}> "
            "(the walk's last cursor, repeated)",
            "targets": None,  # filled after the walk
            "needs": "keyset_walk",
        },
        "keyset_mid": {
            "what": "GET /transactions?limit=50&cursor=<a created_at desc cursor 45 days back, "
            "made with hub_core.queries.transactions.encode_cursor> (~half of the rows above)",
            "targets": [("/transactions", {"limit": 50, "cursor": cursor_mid})]
            if cursor_mid
            else None,
        },
        "offset_page_1000": {
            "what": "GET /transactions?page=1000&limit=50 (offset 49,950, no filter)",
            "targets": [("/transactions", {"page": 1000, "limit": 50})],
        },
        "search_order_id": {
            "what": f"GET /transactions?search=<order id> ({len(keys)} random order ids)",
            "targets": [("/transactions", {"search": k}) for k in keys],
        },
        "search_utr": {
            "what": f"GET /transactions?search=<UTR> ({len(utrs)} random UTRs)",
            "targets": [("/transactions", {"search": u}) for u in utrs],
        },
        "search_email": {
            "what": f"GET /transactions?search=<e-mail> ({len(emails)} random users, "
            "~20 rows each over the 90 days)",
            "targets": [("/transactions", {"search": e}) for e in emails],
        },
        "detail": {
            "what": f"GET /transactions/<id> ({len(ids)} random ids)",
            "targets": [(f"/transactions/{i}", {}) for i in ids],
        },
        "overview_30d_uncached": {
            "what": "GET /metrics/overview?from_date=d-29&to_date=d, Redis INCR "
            "hub:data_version before each request (every cache key misses)",
            "targets": [("/metrics/overview", overview)],
            "bump_version": True,
        },
        "overview_30d_cached": {
            "what": "GET /metrics/overview?from_date=d-29&to_date=d repeated (cache hit after "
            "the warm-up)",
            "targets": [("/metrics/overview", overview)],
            "check_version": True,
        },
        "trends_7d_hour": {
            "what": "GET /metrics/trends?granularity=hour&from_date=d-6&to_date=d, uncached "
            "(INCR hub:data_version before each request)",
            "targets": [("/metrics/trends", trends)],
            "bump_version": True,
        },
        "trends_7d_hour_cached": {
            "what": "the same trends repeated (cached)",
            "targets": [("/metrics/trends", trends)],
            "check_version": True,
        },
        "discrepancies_day": {
            "what": f"GET /reconciliation/discrepancies?from_date={recon}&to_date={recon} (page 1)",
            "targets": [("/reconciliation/discrepancies", {"from_date": recon, "to_date": recon})],
        },
    }
    return scenarios


def cancel_leftovers(database: str) -> int:
    """Cancel the statements still running in `database` once a run's clients are done: they
    belong to requests the clients gave up on (the server does not stop them), and would
    slow the next run down. Returns how many were cancelled."""
    import psycopg

    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = %s "
            "AND state = 'active' AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


def run_scenarios(
    server: ApiServer,
    scenarios: dict[str, dict[str, Any]],
    selected: list[str],
    args: argparse.Namespace,
    save: Callable[[], None],
    results: dict[str, Any],
) -> None:
    """Run the selected latency scenarios in order, each at every `--concurrency` level (the
    walk once, with one client), storing each result as it comes."""
    for name in selected:
        scenario = scenarios[name]
        record: dict[str, Any] = {"what": scenario["what"], "runs": {}}
        results[name] = record
        targets: list[tuple[str, dict[str, Any]]] | None = scenario.get("targets")
        if scenario.get("needs") == "keyset_walk":
            walk = results.get("keyset_walk", {}).get("runs", {}).get("1", {})
            if walk.get("cursor") and walk.get("ok", 0) >= KEYSET_WALK_PAGES:
                targets = [("/transactions", {"limit": 50, "cursor": walk["cursor"]})]
            else:
                record["skipped"] = "the keyset walk did not reach its last page"
        elif "walk" not in scenario and not targets:
            record["skipped"] = "nothing to request (no sample)"
        if "skipped" in record:
            say(f"{name}: skipped ({record['skipped']})")
            continue
        levels = [1] if "walk" in scenario else args.concurrency
        for run_index, level in enumerate(levels):
            spec: dict[str, Any] = {
                "base_url": server.base_url,
                "redis_url": server.redis_url,
                "concurrency": level,
                "warmup": args.warmup,
                "requests": args.requests,
                "bump_version": scenario.get("bump_version", False),
                "max_seconds": args.max_seconds,
                "timeout": args.timeout,
            }
            if "walk" in scenario:
                spec.update(walk=scenario["walk"], path=scenario["path"])
                spec["params"] = scenario["params"]
            else:
                # each run starts further in the (shuffled) targets: ids, order ids, UTRs and
                # e-mails a previous run fetched (and warmed up) are not asked again
                spec["targets"] = targets
                spec["offset"] = run_index * (args.warmup + args.requests)
            entry: dict[str, Any] = {}
            if args.quiet_wait:
                entry["load_reached"] = round(wait_for_quiet(args.quiet_wait), 2)
            check = scenario.get("check_version")
            version_before = data_version(args.redis_db) if check else None
            say(f"{name}: {level} client(s), {spec['requests']} requests ...")
            try:
                entry.update(load_in_process(spec, server))
            except RuntimeError as exc:
                entry["failed"] = str(exc)[-2000:]
            if check:
                entry["data_version_moved"] = data_version(args.redis_db) != version_before
            if "-1" in entry.get("statuses", {}):
                # requests the clients gave up on may still be queued in the server: restart it
                server.stop()
                entry["server_restarted_after"] = True
            cancelled = cancel_leftovers(args.db)
            if cancelled:
                entry["statements_cancelled_after"] = cancelled
            if server.process is None:
                server.start()
            entry["concurrency"] = level
            entry["server_code_sha256"] = server.code_sha256
            record["runs"][str(level)] = entry
            say(f"{name} (c={level}): {describe(entry)}")
            save()


def describe(entry: dict[str, Any]) -> str:
    """One line for a scenario's result."""
    if "skipped" in entry:
        return f"skipped: {entry['skipped']}"
    if "failed" in entry:
        return f"failed: {entry['failed'].splitlines()[-1]}"
    if not entry.get("ok"):
        return f"no 200: {entry.get('statuses')} {entry.get('errors', [''])[:1]}"
    text = (
        f"p50 {entry['p50_ms']} ms, p95 {entry['p95_ms']} ms, p99 {entry['p99_ms']} ms, "
        f"{entry.get('throughput_rps', '-')} req/s, statuses {entry['statuses']}"
    )
    if entry.get("errors"):
        text += f" errors {entry['errors'][:1]}"
    return text


# --------------------------------------------------------------------------- direct queries


DIRECT_OVERVIEW_TX = """
SELECT created_at >= :start AS current, status, source, currency, count(*) AS n,
       sum(amount) AS amount
FROM transactions
WHERE created_at >= :prev_start AND created_at < :end
GROUP BY 1, 2, 3, 4
"""
DIRECT_OVERVIEW_HM = """
SELECT hour >= :start AS current, status, source, currency, sum(count) AS n,
       sum(amount) AS amount
FROM hourly_metrics
WHERE hour >= :prev_start AND hour < :end
GROUP BY 1, 2, 3, 4
"""
DIRECT_TRENDS_TX = """
SELECT date_trunc('hour', created_at) AS hour, count(*) AS n, sum(amount) AS amount,
       count(*) FILTER (WHERE status = 'success') AS success_count,
       count(*) FILTER (WHERE status = 'failed') AS failed_count
FROM transactions
WHERE created_at >= :start AND created_at < :end
GROUP BY 1 ORDER BY 1
"""
DIRECT_TRENDS_HM = """
SELECT hour, sum(count) AS n, sum(amount) AS amount,
       coalesce(sum(count) FILTER (WHERE status = 'success'), 0) AS success_count,
       coalesce(sum(count) FILTER (WHERE status = 'failed'), 0) AS failed_count
FROM hourly_metrics
WHERE hour >= :start AND hour < :end
GROUP BY 1 ORDER BY 1
"""


def run_direct(name: str, meta: dict[str, Any], repeat: int) -> dict[str, Any]:
    """The overview and trend aggregations straight on `transactions` and on `hourly_metrics`
    (SQLAlchemy, one session, one warm-up each, then `repeat` timed runs), with the plans;
    once with the server's settings and once with JIT off."""
    from sqlalchemy import create_engine, text

    last = date.fromisoformat(meta["last_day"])
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    overview = {
        "start": end - timedelta(days=30),
        "prev_start": end - timedelta(days=60),
        "end": end,
    }
    trends = {"start": end - timedelta(days=7), "end": end}
    queries = {
        "overview_30d_on_transactions": (DIRECT_OVERVIEW_TX, overview),
        "overview_30d_on_hourly_metrics": (DIRECT_OVERVIEW_HM, overview),
        "trends_7d_hour_on_transactions": (DIRECT_TRENDS_TX, trends),
        "trends_7d_hour_on_hourly_metrics": (DIRECT_TRENDS_HM, trends),
    }
    engine = create_engine(db_url(name))
    out: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            for suffix, setting in (("", "RESET jit"), ("_jit_off", "SET jit = off")):
                conn.execute(text(setting))
                for base, (sql, params) in queries.items():
                    label = base + suffix
                    say(f"direct: {label} ...")
                    conn.execute(text(sql), params).fetchall()  # warm-up
                    times: list[float] = []
                    for _ in range(repeat):
                        start = time.perf_counter()
                        rows = conn.execute(text(sql), params).fetchall()
                        times.append(time.perf_counter() - start)
                    explain = text("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    plan = conn.execute(explain, params).scalars().all()
                    out[label] = {
                        "sql": " ".join(sql.split()),
                        "session": setting,
                        "repeat": repeat,
                        "result_rows": len(rows),
                        "median_ms": round(statistics.median(times) * 1000, 2),
                        "min_ms": round(min(times) * 1000, 2),
                        "max_ms": round(max(times) * 1000, 2),
                        "explain_analyze": list(plan),
                    }
                    say(f"direct: {label}: median {out[label]['median_ms']} ms")
            conn.rollback()
    finally:
        engine.dispose()
    return out


# --------------------------------------------------------------------------- exports


def export_range(name: str, wanted: int) -> tuple[date, date, int]:
    """The last days of the data set holding at least `wanted` rows (or all of them), with
    the exact number of rows in that range."""
    import psycopg

    with psycopg.connect(conninfo(name)) as conn:
        days = conn.execute(
            "SELECT (hour AT TIME ZONE 'UTC')::date AS day, sum(count) FROM hourly_metrics "
            "GROUP BY 1 ORDER BY 1 DESC"
        ).fetchall()
        total = 0
        first = last = days[0][0]
        for day, count in days:
            first = day
            total += int(count)
            if total >= wanted:
                break
        exact = conn.execute(
            "SELECT count(*) FROM transactions WHERE created_at >= %s AND created_at < %s",
            (
                datetime.combine(first, datetime.min.time(), tzinfo=UTC),
                datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
            ),
        ).fetchone()
    return first, last, int(exact[0]) if exact else 0


def export_client(base_url: str, params: dict[str, Any], keep: str | None) -> dict[str, Any]:
    """Body of the export client (spawned): stream the export, to `keep` or nowhere."""
    import httpx

    start = time.perf_counter()
    first_byte: float | None = None
    size = 0
    newlines = 0
    out = open(keep, "wb") if keep else None  # noqa: SIM115 (closed below)
    try:
        with (
            httpx.Client(headers={"X-API-Key": API_KEY}, timeout=None) as client,
            client.stream("GET", f"{base_url}/export/transactions", params=params) as response,
        ):
            status = response.status_code
            headers = {
                k: v
                for k, v in response.headers.items()
                if k.lower() in ("content-type", "content-disposition", "transfer-encoding")
            }
            if status != 200:
                return {"status": status, "error": response.read().decode(errors="replace")[:500]}
            for chunk in response.iter_raw(1 << 16):
                if first_byte is None:
                    first_byte = time.perf_counter() - start
                size += len(chunk)
                if out is not None:
                    out.write(chunk)
                else:
                    newlines += chunk.count(b"\n")
    finally:
        if out is not None:
            out.close()
    return {
        "status": status,
        "headers": headers,
        "seconds": round(time.perf_counter() - start, 3),
        "time_to_first_byte_s": round(first_byte or 0.0, 3),
        "bytes": size,
        "newlines": newlines,
    }


def xlsx_rows(path: str) -> list[int]:
    """Rows of each sheet of an XLSX file (`<row` elements in its XML, streamed)."""
    counts: list[int] = []
    with zipfile.ZipFile(path) as archive:
        sheets = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        for name in sheets:
            count = 0
            tail = b""
            with archive.open(name) as sheet:
                while chunk := sheet.read(1 << 20):
                    data = tail + chunk
                    count += data.count(b"<row ") + data.count(b"<row>")
                    tail = data[-5:]
                    count -= tail.count(b"<row ") + tail.count(b"<row>")
            counts.append(count)
    return counts


class MemorySampler(Sampler):
    """Samples VmRSS of the given processes every `SAMPLE_EVERY` s until stopped."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(SAMPLE_EVERY)
        self.pids = pids
        self.peak_kib = dict.fromkeys(pids, 0)

    def sample(self) -> None:
        """One reading of each process's VmRSS."""
        for pid in self.pids:
            rss = proc_status(pid).get("VmRSS", 0)
            self.peak_kib[pid] = max(self.peak_kib[pid], rss)


def one_export(
    name: str, fmt: str, first: date, last: date, rows: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One export against a fresh one-worker server: rows/s, the server's peak memory."""
    params = {"format": fmt, "from_date": first.isoformat(), "to_date": last.isoformat()}
    keep = None
    if fmt == "xlsx":
        handle, keep = tempfile.mkstemp(prefix="bench_api_", suffix=".xlsx")
        os.close(handle)
    entry: dict[str, Any] = {
        "what": f"GET /export/transactions?format={fmt}&from_date={first}&to_date={last}",
        "rows_in_range": rows,
        "days": (last - first).days + 1,
    }
    if args.quiet_wait:
        entry["load_reached"] = round(wait_for_quiet(args.quiet_wait), 2)
    with running_server(name, 1, args.redis_db, args.server_log) as server:
        pid = server.worker_pids()[0]
        base = proc_status(pid)
        sampler = MemorySampler([pid])
        sampler.start()
        cpu0 = server.cpu_s()
        try:
            result = run_isolated(export_client, server.base_url, params, keep)
        finally:
            sampler.stop()
        after = proc_status(pid)
        entry["server_cpu_s"] = round(server.cpu_s() - cpu0, 2)
        entry["server_code_sha256"] = server.code_sha256
    entry.update(result)
    entry["server_rss_before_mb"] = round(base.get("VmRSS", 0) / 1024, 1)
    entry["server_peak_rss_sampled_mb"] = round(sampler.peak_kib[pid] / 1024, 1)
    entry["server_vmhwm_mb"] = round(after.get("VmHWM", 0) / 1024, 1)
    entry["server_peak_growth_mb"] = round((after.get("VmHWM", 0) - base.get("VmRSS", 0)) / 1024, 1)
    entry["client_peak_rss_mb"] = result.get("peak_rss_mb")
    if result.get("status") == 200:
        if fmt == "csv":
            entry["rows_received"] = result["newlines"] - 1  # the header line
        elif keep:
            sheets = xlsx_rows(keep)
            entry["sheet_rows"] = sheets
            entry["rows_received"] = sum(sheets) - len(sheets)  # a header row per sheet
        entry["rows_match"] = entry.get("rows_received") == rows
        entry["rows_per_s"] = round(rows / result["seconds"]) if result["seconds"] else None
    if keep:
        os.unlink(keep)
    return entry


def run_exports(
    name: str, meta: dict[str, Any], formats: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """The CSV and XLSX exports over ~`--export-rows` rows (XLSX fewer if it is too slow)."""
    out: dict[str, Any] = {}
    first, last, rows = export_range(name, args.export_rows)
    if "csv" in formats:
        say(f"export csv: {first}..{last}, {rows:,} rows ...")
        out["export_csv"] = one_export(name, "csv", first, last, rows, args)
        say(f"export csv: {describe_export(out['export_csv'])}")
    if "xlsx" in formats:
        x_first, x_last, x_rows = first, last, rows
        probe_first, probe_last, probe_rows = export_range(name, 1)
        say(f"export xlsx probe: {probe_first}, {probe_rows:,} rows ...")
        probe = one_export(name, "xlsx", probe_first, probe_last, probe_rows, args)
        out["export_xlsx_probe"] = probe
        say(f"export xlsx probe: {describe_export(probe)}")
        rate = probe.get("rows_per_s")
        if rate and rows / rate > args.xlsx_max_seconds:
            wanted = int(rate * args.xlsx_max_seconds * 0.8)
            x_first, x_last, x_rows = export_range(name, max(wanted, probe_rows))
            out["export_xlsx_reduced"] = (
                f"{rows:,} rows would take ~{rows / rate:.0f} s at the probe's {rate:,} rows/s "
                f"(over --xlsx-max-seconds {args.xlsx_max_seconds}): exported {x_rows:,} rows"
            )
            say(out["export_xlsx_reduced"])
        if rate and x_rows > probe_rows:
            say(f"export xlsx: {x_first}..{x_last}, {x_rows:,} rows ...")
            out["export_xlsx"] = one_export(name, "xlsx", x_first, x_last, x_rows, args)
            say(f"export xlsx: {describe_export(out['export_xlsx'])}")
        else:
            out["export_xlsx"] = probe
    return out


def describe_export(entry: dict[str, Any]) -> str:
    """One line for an export's result."""
    if entry.get("status") != 200:
        return f"HTTP {entry.get('status')}: {entry.get('error', '')[:200]}"
    return (
        f"{entry.get('rows_received'):,} rows (match: {entry.get('rows_match')}) in "
        f"{entry['seconds']} s = {entry.get('rows_per_s'):,} rows/s, "
        f"{entry['bytes'] / 1e6:.0f} MB, server peak RSS {entry['server_vmhwm_mb']} MB "
        f"(+{entry['server_peak_growth_mb']} MB)"
    )


# --------------------------------------------------------------------------- report


def run_of(results: dict[str, Any], name: str, level: int | None = None) -> dict[str, Any]:
    """The run of scenario `name` at concurrency `level` (default: the highest run)."""
    runs = results.get("scenarios", {}).get(name, {}).get("runs", {})
    if not runs:
        return {}
    key = str(level) if level is not None else max(runs, key=int)
    return runs.get(key, {})


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue with the measured value (at the highest concurrency, and
    with one client) and whether it is met under load."""
    rows: list[dict[str, Any]] = []
    for name, target in TARGETS_MS.items():
        loaded = run_of(results, name)
        if not loaded:
            continue
        single = run_of(results, name, 1)
        value = loaded.get("p95_ms") if loaded.get("ok") else None
        rows.append(
            {
                "target": f"{name} p95 < {target:g} ms",
                "concurrency": loaded.get("concurrency"),
                "value": value,
                "value_one_client": single.get("p95_ms") if single.get("ok") else None,
                "met": value is not None
                and value < target
                and loaded["ok"] == loaded["requests_planned"],
            }
        )
    csv = results.get("exports", {}).get("export_csv")
    if csv:
        rate = csv.get("rows_per_s")
        rows.append(
            {
                "target": f"CSV export >= {TARGET_CSV_ROWS_S:,} rows/s",
                "value": rate,
                "met": bool(rate and rate >= TARGET_CSV_ROWS_S and csv.get("rows_match")),
            }
        )
        peak = csv.get("server_vmhwm_mb") if csv.get("status") == 200 else None
        rows.append(
            {
                "target": f"CSV export server peak RSS < {TARGET_CSV_PEAK_MB:g} MB",
                "value": peak,
                "met": bool(peak and peak < TARGET_CSV_PEAK_MB),
            }
        )
    return rows


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """How much the materialized `hourly_metrics` saves: the direct queries on `transactions`
    against the endpoints (uncached, p50, one client and under load) and against the same
    queries on `hourly_metrics` (server settings as they are, and with JIT off)."""
    direct = results.get("direct", {})
    out: dict[str, Any] = {}

    def ms(label: str) -> float | None:
        value = direct.get(label, {}).get("median_ms")
        return float(value) if value else None

    for metric, scenario in (
        ("overview_30d", "overview_30d_uncached"),
        ("trends_7d_hour", "trends_7d_hour"),
    ):
        tx = ms(f"{metric}_on_transactions")
        for level, run in results.get("scenarios", {}).get(scenario, {}).get("runs", {}).items():
            if tx and run.get("p50_ms"):
                out[f"{metric}: direct on transactions / endpoint uncached p50 (c={level})"] = (
                    round(tx / run["p50_ms"], 1)
                )
        for suffix in ("", "_jit_off"):
            tx_s, hm_s = (
                ms(f"{metric}_on_transactions{suffix}"),
                ms(f"{metric}_on_hourly_metrics{suffix}"),
            )
            if tx_s and hm_s:
                out[f"{metric}: direct on transactions / on hourly_metrics{suffix}"] = round(
                    tx_s / hm_s, 1
                )
    return out


def print_report(results: dict[str, Any]) -> None:
    """The results as tables on stdout."""
    meta = results["dataset"]
    dirty = " (+ local changes)" if results["code"]["hub_code_dirty"] else ""
    print(
        f"\nAPI benchmark: {meta['rows']:,} transactions {meta['first_day']}..{meta['last_day']}"
        f" in {results['database']}, uvicorn --workers {results['server']['workers']}, "
        f"closed-loop clients {results['load']['concurrency']}; commit "
        f"{results['code']['commit']}{dirty}"
    )
    print(f"preparation: {meta.get('prepare_s')} s {meta.get('prepare_steps_s')}")
    header = (
        f"{'scenario':<24} {'c':>2} {'n':>5} {'ok':>5} {'p50 ms':>9} {'p95 ms':>9} "
        f"{'p99 ms':>9} {'req/s':>7} {'srv cpu ms':>10} {'busy %':>6}"
    )
    print("\n" + header)
    print("-" * len(header))
    for name, record in results.get("scenarios", {}).items():
        if "skipped" in record:
            print(f"{name:<24} skipped: {record['skipped']}")
        for level, entry in record.get("runs", {}).items():
            if not entry.get("ok"):
                print(f"{name:<24} {level:>2} {describe(entry)[:150]}")
                continue
            print(
                f"{name:<24} {level:>2} {entry['requests']:>5} {entry['ok']:>5} "
                f"{entry['p50_ms']:>9} {entry['p95_ms']:>9} {entry['p99_ms']:>9} "
                f"{entry.get('throughput_rps', '-')!s:>7} "
                f"{entry.get('server_cpu_ms_per_request', '-')!s:>10} "
                f"{entry.get('machine_busy_pct', '-')!s:>6}"
            )
    direct = results.get("direct", {})
    if direct:
        print("\ndirect SQL (one session, median of runs)")
        for label, entry in direct.items():
            print(f"  {label:<40} {entry['median_ms']:>10} ms ({entry['result_rows']} rows)")
    for label, value in results.get("ratios", {}).items():
        print(f"  ratio {label}: {value}")
    exports = results.get("exports", {})
    if exports:
        print("\nexports")
        for label in ("export_csv", "export_xlsx_probe", "export_xlsx"):
            if label in exports:
                print(f"  {label:<18} {describe_export(exports[label])}")
        if "export_xlsx_reduced" in exports:
            print(f"  note: {exports['export_xlsx_reduced']}")
    if results.get("verdicts"):
        print("\ntargets (value under load; with one client in brackets)")
        for row in results["verdicts"]:
            met = "MET" if row["met"] else "not met"
            single = f"({row['value_one_client']})" if "value_one_client" in row else ""
            print(f"  {row['target']:<42} {row['value']!s:>10} {single:>10}  {met}")


# --------------------------------------------------------------------------- main


ALL_SCENARIOS = (
    "list_filtered",
    "keyset_walk",
    "keyset_deep",
    "keyset_mid",
    "offset_page_1000",
    "search_order_id",
    "search_utr",
    "search_email",
    "detail",
    "overview_30d_uncached",
    "overview_30d_cached",
    "trends_7d_hour",
    "trends_7d_hour_cached",
    "discrepancies_day",
)
OTHER_PARTS = ("direct", "export_csv", "export_xlsx")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="transactions (10M)")
    parser.add_argument(
        "--db", help=f"database (default {DEFAULT_DB}, {SMALL_DB} for another --rows)"
    )
    parser.add_argument("--regenerate", action="store_true", help="drop and generate again")
    parser.add_argument("--prepare-only", action="store_true", help="only make the data set")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per scenario")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests first")
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[1, 4],
        help="closed-loop clients, comma-separated levels each scenario runs at (1,4)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="client timeout of a request (s)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument(
        "--only",
        action="append",
        choices=(*ALL_SCENARIOS, *OTHER_PARTS),
        help="run only this part (repeatable); keyset_deep runs the walk too",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=120.0,
        help="time budget of a scenario's warm-up and of its timed phase (each): a slow "
        "scenario stops early and reports the requests it made",
    )
    parser.add_argument("--direct-repeat", type=int, default=5, help="timed direct queries")
    parser.add_argument("--export-rows", type=int, default=1_000_000, help="rows to export")
    parser.add_argument(
        "--xlsx-max-seconds",
        type=float,
        default=300.0,
        help="export fewer XLSX rows when --export-rows would take longer (from a 1-day probe)",
    )
    add_quiet_wait(parser)
    parser.add_argument("--redis-db", type=int, default=REDIS_DB, help="the API's Redis db")
    parser.add_argument("--json", type=Path, help="results file (default bench/results/...)")
    args = parser.parse_args(argv)
    args.db = args.db or (DEFAULT_DB if args.rows == DEFAULT_ROWS else SMALL_DB)
    return args


def main(argv: list[str] | None = None) -> int:
    """Prepare the data set, then run the scenarios, direct queries and exports."""
    args = parse_args(argv)
    meta = prepare(args.db, args.rows, args.regenerate)
    if args.prepare_only:
        print(json.dumps(meta, indent=2))
        return 0

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(exist_ok=True)
    path = args.json or RESULTS_DIR / f"api_{args.db}_{stamp}.json"
    args.server_log = Path(tempfile.gettempdir()) / f"bench_api_uvicorn_{stamp}.log"
    selected = list(args.only or (*ALL_SCENARIOS, *OTHER_PARTS))
    if "keyset_deep" in selected and "keyset_walk" not in selected:
        selected.insert(selected.index("keyset_deep"), "keyset_walk")
    results: dict[str, Any] = {
        "benchmark": "bench/api.py",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": args.db,
        "dataset": meta,
        "machine": {**machine_basics(), "postgresql": pg_settings()},
        "code": git_info(),
        "server": {
            "command": "uvicorn hub_api.main:app --host 127.0.0.1 --port <free> --workers "
            f"{args.workers} --no-access-log --log-level warning",
            "workers": args.workers,
            "env": {
                "DATABASE_URL": db_url(args.db),
                "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
                "HUB_API_KEYS": f"{API_KEY}:operator",
                "HUB_API_RATE_LIMIT_PER_MINUTE": "0",
                "HUB_LOG_LEVEL": "WARNING",
            },
            "log": str(args.server_log),
        },
        "load": {
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "requests": args.requests,
            "method": "a spawned process; closed loop: each client thread (own keep-alive "
            "httpx.Client) sends its next request when the previous body is read; latency = "
            "send to body read, in that process; only HTTP 200 answers enter the percentiles",
        },
        "scenarios": {},
    }

    def save() -> None:
        results["ratios"] = ratios(results)
        results["verdicts"] = verdicts(results)
        path.write_text(json.dumps(results, indent=2, default=str) + "\n")

    latency = [s for s in selected if s in ALL_SCENARIOS]
    if latency:
        last = date.fromisoformat(meta["last_day"])
        picks = sample_rows(args.db, meta["rows"])
        random_order = list(picks)
        random.Random(42).shuffle(random_order)
        mid = datetime.combine(last - timedelta(days=44), datetime.min.time(), tzinfo=UTC)
        try:
            cursor_mid = mid_cursor(args.db, mid)
        except Exception as exc:  # an encoder that moved: report, go on
            say(f"keyset_mid: no cursor ({exc})")
            cursor_mid = None
        scenarios = build_scenarios(meta, random_order, cursor_mid)
        redis_client(args.redis_db).incr(DATA_VERSION_KEY)
        with running_server(args.db, args.workers, args.redis_db, args.server_log) as server:
            run_scenarios(server, scenarios, latency, args, save, results["scenarios"])
    if "direct" in selected:
        results["direct"] = run_direct(args.db, meta, args.direct_repeat)
        save()
    formats = [f for f in ("csv", "xlsx") if f"export_{f}" in selected]
    if formats:
        results["exports"] = run_exports(args.db, meta, formats, args)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["code_at_end"] = git_info()
    if results["code_at_end"]["code_sha256"] != results["code"]["code_sha256"]:
        say("the hub code changed on disk during the run: servers started later ran other code")
    save()
    print_report(results)
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
