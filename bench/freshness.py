"""Freshness benchmark (issue 12): how long after a payment is created at a provider can a
reader see it through the API, with the hub's default schedules.

METHOD: the whole stack of the end-to-end test (`tests/e2e/stack.py`: the sandbox providers in
live mode, ~30 new payments a minute, serving only what has happened; the Dagster webserver and
daemon; the API) runs with the schedule intervals given (default Vima 5 min, PayShack 10 min,
the hub's defaults), on its own databases (`hub_bench_fresh`, Dagster's
`hub_e2e_dagster_<pid>`). After `--warmup` seconds (the first syncs of today), the API is
polled every `--poll` seconds for `--minutes`: every transaction the providers created after
the watch began is timed from its creation at the stand-in (its `created_at`) to the first
poll that lists it. Only payments created at least `--settle` seconds before the end count
(one interval plus one run: time enough to be synced); the providers' own rows of that window
that were never listed are reported as `never_seen`. Results: p50/p95/max lag per source,
JSON under `bench/results/`.

Run: `.venv/bin/python bench/freshness.py [--minutes 30] [--vima-every 5] [--payshack-every 10]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("HUB_BENCH_PG", "postgres@127.0.0.1:5432")
os.environ.update(
    {
        "DATABASE_URL": f"postgresql+psycopg://{PG}/hub_bench_fresh",
        "DAGSTER_POSTGRES_URL": f"postgresql+psycopg2://{PG}/hub_bench_fresh_dagster",
        "REDIS_URL": os.environ.get("HUB_BENCH_REDIS", "redis://127.0.0.1:6379/12"),
        "HUB_API_KEYS": "bench-reader:reader,bench-operator:operator",
        "VIMA_API_KEY": "bench-vima-key",
        "PAYSHACK_EMAIL": "ops@bench.test",
        "PAYSHACK_PASSWORD": "bench-password",
        "HUB_SECRET_KEY": "bench-secret-key",
        "HUB_LOG_JSON": "true",
    }
)

from bench._common import machine_basics, migrate  # noqa: E402
from hub_core.devservices import find_chromium  # noqa: E402
from hub_core.types import Source  # noqa: E402
from tests.e2e.stack import (  # noqa: E402
    FreshnessWatch,
    percentile,
    provider_transactions,
    running_stack,
)


def main() -> None:
    """Run the stack, watch the API, print and store the lags."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30, help="how long to watch")
    parser.add_argument("--vima-every", type=int, default=5, help="Vima schedule, minutes")
    parser.add_argument("--payshack-every", type=int, default=10, help="PayShack schedule")
    parser.add_argument("--warmup", type=float, default=90, help="seconds before watching")
    parser.add_argument("--settle", type=float, default=None, help="default: interval + 2 min")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between polls")
    args = parser.parse_args()
    os.environ.setdefault("HUB_CHROMIUM_PATH", find_chromium() or "")
    settle = args.settle or 60 * max(args.vima_every, args.payshack_every) + 120
    import time

    migrate(os.environ["DATABASE_URL"])
    started = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(
            Path(tmp), every_minutes=(args.vima_every, args.payshack_every), per_day=2000
        ) as stack,
    ):
        time.sleep(args.warmup)
        with FreshnessWatch(stack.api_url, "bench-reader", args.poll) as watch:
            time.sleep(args.minutes * 60)
        watch_start = watch.start
        cutoff = datetime.now(UTC) - timedelta(seconds=settle)
        lags: dict[str, list[float]] = {}
        never_seen: dict[str, int] = {}
        for source in Source:
            lags[source.value] = watch.lags(source, watch_start, cutoff)
            held = provider_transactions(stack.world, source, stack.day)
            due = {sid for sid, txn in held.items() if watch_start <= txn.created_at <= cutoff}
            never_seen[source.value] = len(due - set(watch.seen[source.value]))
    result = {
        "benchmark": "freshness",
        "machine": machine_basics(),
        "started": started.isoformat(),
        "watch_start": watch_start.isoformat(),
        "cutoff": cutoff.isoformat(),
        "intervals_minutes": {"vima": args.vima_every, "payshack": args.payshack_every},
        "minutes": args.minutes,
        "settle_seconds": settle,
        "poll_seconds": args.poll,
        "sources": {
            source: {
                "n": len(values),
                "p50_s": percentile(values, 0.5),
                "p95_s": percentile(values, 0.95),
                "max_s": max(values, default=None),
                "never_seen": never_seen[source],
            }
            for source, values in lags.items()
        },
    }
    out = ROOT / "bench" / "results" / f"freshness_{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["sources"], indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
