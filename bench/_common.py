"""What every benchmark script shares: machine facts, load and CPU sampling, and running a
contender in a fresh spawned interpreter."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

SPAWN = mp.get_context("spawn")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_basics() -> dict[str, Any]:
    """Cores, CPU model, memory, kernel and Python of the machine the figures come from."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        mem_kib = int(handle.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kib / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of all cores busy between two `cpu_jiffies()` readings, in %."""
    return round(100 * (after[0] - before[0]) / max(1, after[1] - before[1]), 1)


def wait_for_quiet(max_wait: float, threshold: float) -> float:
    """Wait (at most `max_wait` s) until the 1-minute load average is below `threshold`.

    The machine may be shared (other benchmarks, test suites); returns the load reached.
    """
    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0]
    while load >= threshold and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()[0]
    return load


def _child(conn: Connection, func: Callable[..., dict[str, Any]], args: tuple[Any, ...]) -> None:
    """Spawned process body: run `func`, send its result with peak RSS and CPU, or the error."""
    try:
        result = func(*args)
        result["peak_rss_mb"] = round(peak_rss_mb(), 1)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if children:
            result["children_peak_rss_mb"] = round(children, 1)
        conn.send(("ok", result))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def run_isolated(func: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `func(*args)` in a fresh spawned interpreter and return its result dict.

    Adds the 1-minute load average before the run and the share of both cores busy during it
    (everything on the machine: contender, servers, PostgreSQL, other processes).
    """
    load = os.getloadavg()[0]
    before = cpu_jiffies()
    parent, child = SPAWN.Pipe(duplex=False)
    process = SPAWN.Process(target=_child, args=(child, func, args), name=func.__name__)
    process.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"{func.__name__} died (exit code {process.exitcode})") from None
    process.join()
    if status != "ok":
        raise RuntimeError(f"{func.__name__} failed:\n{payload}")
    payload["load_before"] = round(load, 2)
    payload["machine_busy_pct"] = busy_pct(before, cpu_jiffies())
    return payload


def migrate(url: str) -> None:
    """`hub_core.migrate.upgrade(url)` (creates the database), quietly: Alembic logs every
    step at INFO."""
    import logging

    logging.disable(logging.INFO)
    try:
        from hub_core.migrate import upgrade

        upgrade(url)
    finally:
        logging.disable(logging.NOTSET)
