"""What every benchmark script shares, written once.

- The machine: its facts (`machine_basics`, `pg_settings`, `code_version`), how busy it is
  (`cpu_jiffies`, `busy_pct`, `wait_for_quiet`) and what `/proc` says about a process
  (`read_stat`, `proc_status`, `proc_cpu_s`, `children_of`, `descendants`, `pss_kib`, `Sampler`
  for a sampling thread, `TreeMemory` for a process tree's summed memory).
- Isolated runs: `run_isolated` runs a contender in a freshly spawned interpreter and returns
  its result with its peak RSS and CPU time, the load before and the machine's busy share.
- The sandbox: `sandbox_process` serves a world built by the script in a process of its own.
- PostgreSQL: `db_url`, `conninfo`, `recreate_database`, `drop_database`, `migrate`.
- Figures: `percentile`, `summarize_ms`, `median_of`; `Profiler` (cProfile of a section);
  `say` (progress on stderr).

Hub modules are imported inside the functions that need them, so a spawned contender only
pays for what it uses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

SPAWN = mp.get_context("spawn")
ROOT = Path(__file__).resolve().parent.parent
"""The repository's root (the scripts run from any directory)."""
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
"""The local PostgreSQL server every benchmark database lives on (trust auth)."""
QUIET_LOAD = 1.0
"""The 1-minute load average below which the machine counts as quiet."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HUB_CODE = ("hub_core", "hub_pipelines")
"""The hub's packages whose state (committed or not) a figure belongs to."""
PG_SETTINGS = (
    "server_version",
    "shared_buffers",
    "work_mem",
    "hash_mem_multiplier",
    "maintenance_work_mem",
    "effective_cache_size",
    "random_page_cost",
    "max_parallel_workers_per_gather",
    "jit",
)
"""The server settings that matter for the figures (recorded with the machine)."""

# Bench-only credentials of the local sandbox (never real secrets).
SANDBOX_API_KEY = "bench-vima-key"
SANDBOX_EMAIL = "bench@example.invalid"
SANDBOX_PASSWORD = "bench-password"


# --------------------------------------------------------------------------- the machine


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


def pg_settings(names: Iterable[str] = PG_SETTINGS) -> dict[str, str]:
    """`SHOW <name>` for each of `names` on the local server ("?" for one it does not know)."""
    import psycopg

    settings: dict[str, str] = {}
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        for name in names:
            try:
                row = conn.execute(f"SHOW {name}").fetchone()
            except psycopg.Error:
                row = None
            settings[name] = str(row[0]) if row else "?"
    return settings


def code_version(dirs: Sequence[str] = HUB_CODE, with_files: bool = False) -> dict[str, Any]:
    """The hub code being measured: the git commit, and whether files under `dirs` differ
    from it (the checkout is shared: the code can change between contenders); with
    `with_files`, which files."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, cwd=ROOT
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", *dirs)
    version: dict[str, Any] = {
        "commit": git("rev-parse", "--short", "HEAD"),
        "hub_code_dirty": bool(dirty),
    }
    if with_files:
        version["dirty_files"] = dirty.splitlines()
    return version


def files_digest(paths: Iterable[Path], length: int = 16) -> str:
    """sha256 (first `length` hex digits) of files as they are on disk, names included."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:length]


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of all cores busy between two `cpu_jiffies()` readings, in %."""
    return round(100 * (after[0] - before[0]) / max(1, after[1] - before[1]), 1)


def add_quiet_wait(parser: argparse.ArgumentParser, default: float = 0.0) -> None:
    """The `--quiet-wait SECONDS` option of every script (read by `wait_for_quiet`)."""
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=default,
        metavar="SECONDS",
        help=f"before each run, wait up to this long for the 1-minute load average to drop "
        f"below {QUIET_LOAD:g} (a shared machine)",
    )


def wait_for_quiet(max_wait: float, threshold: float = QUIET_LOAD) -> float:
    """Wait (at most `max_wait` s) until the 1-minute load average is below `threshold`.

    The machine may be shared (other benchmarks, test suites); returns the load reached.
    """
    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0]
    while load >= threshold and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()[0]
    return load


# --------------------------------------------------------------------------- /proc


@dataclass(slots=True)
class ProcStat:
    """What `/proc/<pid>/stat` says about a process."""

    pid: int
    ppid: int
    comm: str
    cpu_ticks: int  # utime + stime


def read_stat(pid: int) -> ProcStat | None:
    """`/proc/<pid>/stat` parsed, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read().decode(errors="replace")
    except OSError:
        return None
    head, _, rest = data.rpartition(")")
    comm = head.split("(", 1)[1] if "(" in head else ""
    fields = rest.split()
    try:
        # fields[0] is the state (stat field 3): ppid is field 4, utime 14, stime 15
        return ProcStat(pid, int(fields[1]), comm, int(fields[11]) + int(fields[12]))
    except (IndexError, ValueError):
        return None


def process_table() -> dict[int, ProcStat]:
    """Every live process of the machine, by pid."""
    stats: dict[int, ProcStat] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                stats[stat.pid] = stat
    return stats


def children_of(pid: int) -> list[int]:
    """Direct children of `pid`."""
    return [stat.pid for stat in process_table().values() if stat.ppid == pid]


def descendants(root: int) -> dict[int, ProcStat]:
    """Every live descendant of `root` (not `root` itself), by walking the ppid of /proc."""
    stats = process_table()
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found: dict[int, ProcStat] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = stats[pid]
        todo.extend(children.get(pid, []))
    return found


def pss_kib(pid: int) -> int:
    """Proportional set size of a process in KiB (0 if it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` so far (0 when it is gone)."""
    stat = read_stat(pid)
    return stat.cpu_ticks / CLOCK_TICKS if stat is not None else 0.0


def proc_status(pid: int) -> dict[str, int]:
    """Memory lines of /proc/<pid>/status in KiB (VmRSS, VmHWM, RssAnon, RssShmem...); empty
    when the process is gone."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(("Vm", "Rss")):
                    key, _, rest = line.partition(":")
                    values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


class Sampler(threading.Thread):
    """A daemon thread calling `sample()` every `every` seconds from `start()` to `stop()`
    (or over a `with` block).

    With `final_sample`, one more sample is taken once `stop()` is called.
    """

    final_sample = False

    def __init__(self, every: float) -> None:
        super().__init__(daemon=True, name=type(self).__name__)
        self.every = every
        self.samples = 0
        self._halt = threading.Event()

    def sample(self) -> None:
        """One reading (subclasses)."""
        raise NotImplementedError

    def run(self) -> None:
        """Sample until `stop()`."""
        while True:
            stopping = self._halt.is_set()
            if stopping and not self.final_sample:
                return
            self.sample()
            self.samples += 1
            if stopping:
                return
            self._halt.wait(self.every)

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._halt.set()
        self.join()

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class TreeMemory(Sampler):
    """Peak memory of a process and all its descendants, summed at each sample: RSS (pages
    shared between the processes, like the interpreter's libraries, counted in each) and PSS
    (shared pages split between their users: what the tree as a whole costs the machine)."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(every)
        self.pid = pid
        self.peak_rss_kib = 0
        self.peak_pss_kib = 0
        self.most_processes = 0

    def sample(self) -> None:
        """Sum RSS and PSS over the tree now; keep the peaks."""
        rss = pss = 0
        tree = [self.pid, *descendants(self.pid)]
        for pid in tree:
            rss += proc_status(pid).get("VmRSS", 0)
            pss += pss_kib(pid)
        self.peak_rss_kib = max(self.peak_rss_kib, rss)
        self.peak_pss_kib = max(self.peak_pss_kib, pss)
        self.most_processes = max(self.most_processes, len(tree))


# --------------------------------------------------------------------------- isolated runs


def _child(conn: Connection, func: Callable[..., dict[str, Any]], args: tuple[Any, ...]) -> None:
    """Spawned process body: run `func`, send its result with peak RSS and CPU, or the error."""
    try:
        result = func(*args)
        result["peak_rss_mb"] = round(peak_rss_mb(), 1)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        children_cpu = children.ru_utime + children.ru_stime
        # the contender's own CPU and that of every process it started and waited for
        result["cpu_s"] = round(usage.ru_utime + usage.ru_stime + children_cpu, 2)
        if children.ru_maxrss:
            result["children_peak_rss_mb"] = round(children.ru_maxrss / 1024, 1)
            result["children_cpu_s"] = round(children_cpu, 2)
        conn.send(("ok", result))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def run_isolated(
    func: Callable[..., dict[str, Any]],
    *args: Any,
    watch: Callable[[int], AbstractContextManager[Any]] | None = None,
) -> dict[str, Any]:
    """Run `func(*args)` in a fresh spawned interpreter and return its result dict.

    Adds the process's peak RSS (`peak_rss_mb`), the peak of its whole process tree's RSS and
    PSS summed (`tree_peak_rss_mb`, `tree_peak_pss_mb`: sampled every 0.1 s; a contender that
    starts processes of its own is all of them), its CPU time with that of the processes it
    started (`cpu_s`; theirs alone in `children_cpu_s`), the 1-minute load
    average before the run (`load_before`) and the share of both cores busy during it
    (`machine_busy_pct`: everything on the machine, contender, servers, PostgreSQL, other
    processes). `watch(pid)`, when given, is entered with the child's pid while it runs (a
    sampler of its process tree, say).
    """
    load = os.getloadavg()[0]
    before = cpu_jiffies()
    parent, child = SPAWN.Pipe(duplex=False)
    process = SPAWN.Process(target=_child, args=(child, func, args), name=func.__name__)
    process.start()
    child.close()
    assert process.pid is not None
    tree = TreeMemory(process.pid)
    try:
        with tree, watch(process.pid) if watch is not None else nullcontext():
            status, payload = parent.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"{func.__name__} died (exit code {process.exitcode})") from None
    process.join()
    if status != "ok":
        raise RuntimeError(f"{func.__name__} failed:\n{payload}")
    payload["tree_peak_rss_mb"] = round(tree.peak_rss_kib / 1024, 1)
    payload["tree_peak_pss_mb"] = round(tree.peak_pss_kib / 1024, 1)
    payload["tree_processes"] = tree.most_processes
    payload["load_before"] = round(load, 2)
    payload["machine_busy_pct"] = busy_pct(before, cpu_jiffies())
    return payload


# --------------------------------------------------------------------------- the sandbox


@dataclass
class SandboxProcess:
    """A running sandbox process: its pid and what it reported (what the script's builder
    returned, plus `vima_url`, `payshack_url` and the process's `peak_rss_mb`)."""

    pid: int
    info: dict[str, Any]


def _sandbox_main(
    build: Callable[..., tuple[Any, dict[str, Any]]],
    args: tuple[Any, ...],
    options: dict[str, Any],
    conn: Connection,
) -> None:
    """Sandbox process: build the world, serve it, report, wait for the stop word."""
    from hub_sandbox.server import running_sandbox

    try:
        world, info = build(*args)
    except BaseException:
        conn.send({"error": traceback.format_exc()})
        return
    with running_sandbox(
        world,
        api_key=SANDBOX_API_KEY,
        email=SANDBOX_EMAIL,
        password=SANDBOX_PASSWORD,
        **options,
    ) as handle:
        info["vima_url"] = handle.vima_url
        info["payshack_url"] = handle.payshack_url
        info["peak_rss_mb"] = round(peak_rss_mb(), 1)
        conn.send(info)
        with suppress(EOFError):
            conn.recv()  # anything (or EOF when the parent dies) stops the sandbox


@contextmanager
def sandbox_process(
    build: Callable[..., tuple[Any, dict[str, Any]]], *args: Any, **options: Any
) -> Iterator[SandboxProcess]:
    """The sandbox serving `build(*args)` (a module-level function of the script returning a
    scenario or world and a dict of facts about it), in a process of its own, with the
    bench-only credentials; `options` go to `running_sandbox` (`token_ttl`...)."""
    parent, child = SPAWN.Pipe()
    process = SPAWN.Process(
        target=_sandbox_main, args=(build, args, options, child), name="sandbox"
    )
    process.start()
    child.close()
    try:
        try:
            info = parent.recv()
        except EOFError:
            process.join()
            raise RuntimeError(f"the sandbox died (exit code {process.exitcode})") from None
        if "error" in info:
            raise RuntimeError(f"the sandbox failed:\n{info['error']}")
        assert process.pid is not None
        yield SandboxProcess(process.pid, info)
    finally:
        with suppress(OSError):
            parent.send("stop")
        process.join(15)
        if process.is_alive():
            process.terminate()
            process.join()


# --------------------------------------------------------------------------- PostgreSQL


def db_url(name: str, driver: str = "postgresql+psycopg") -> str:
    """SQLAlchemy URL of the database `name` on the local server."""
    return f"{PG_SERVER.replace('postgresql', driver, 1)}/{name}"


def conninfo(name: str) -> str:
    """libpq connection string of the database `name` on the local server."""
    return f"{PG_SERVER}/{name}"


def drop_database(name: str) -> None:
    """Drop the database `name` (forcing out its sessions) if it exists."""
    from hub_core.db import drop_database as drop

    drop(db_url(name))


def recreate_database(name: str, migrated: bool = True) -> str:
    """Drop the database `name` (forcing out its sessions) and create it again, migrated to
    head unless `migrated` is false; returns its SQLAlchemy URL."""
    from hub_core.db import ensure_database

    drop_database(name)
    url = db_url(name)
    if migrated:
        migrate(url)
    else:
        ensure_database(url)
    return url


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


# --------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile of `values` (linear interpolation between closest ranks)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/min/max of latencies given in seconds, in ms."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else math.nan,
        "min_ms": round(min(ms), 2) if ms else math.nan,
        "max_ms": round(max(ms), 2) if ms else math.nan,
    }


def median_of(
    runs: Iterable[Mapping[str, Any]], key: str | Callable[[Mapping[str, Any]], float]
) -> float:
    """Median over `runs` of `run[key]` (or of `key(run)` when `key` is a function)."""
    get = key if callable(key) else (lambda run: run[key])
    return statistics.median(get(run) for run in runs)


class Profiler:
    """cProfile around a section when `top` > 0; a no-op otherwise."""

    def __init__(self, top: int) -> None:
        import cProfile

        self.top = top
        self.profile = cProfile.Profile() if top else None

    def __enter__(self) -> Profiler:
        if self.profile:
            self.profile.enable()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.profile:
            self.profile.disable()

    def report(self, result: dict[str, Any]) -> None:
        """Put the top functions, by cumulative then by own time, in `result["profile"]`."""
        if not self.profile:
            return
        import io
        import pstats

        out = io.StringIO()
        stats = pstats.Stats(self.profile, stream=out)
        stats.sort_stats("cumulative").print_stats(self.top)
        stats.sort_stats("tottime").print_stats(self.top)
        result["profile"] = out.getvalue()


def save_partial(path: Path | None, results: dict[str, Any], runs: dict[str, Any]) -> None:
    """Write the figures so far (a killed run keeps what it measured)."""
    if path is not None:
        path.write_text(json.dumps({**results, "runs": runs, "partial": True}, indent=2))


def run_and_report(
    run: Callable[[], dict[str, Any] | None],
    databases: Iterable[str],
    keep_dbs: bool,
    render: Callable[[dict[str, Any]], str],
    json_path: Path | None,
) -> int:
    """A script's ending: `run()`, its databases dropped after it unless `keep_dbs` (also on
    Ctrl-C or SIGTERM), then the machine facts, `render(results)` and the JSON file; 0."""
    # A SIGTERM unwinds like Ctrl-C: the sandbox stops and the databases are dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        results = run()
    finally:
        if not keep_dbs:
            for name in databases:
                drop_database(name)
    if results is None:  # the run printed what it had to say
        return 0
    print(json.dumps(results["machine"], indent=2))
    print(render(results))
    if json_path:
        json_path.write_text(json.dumps(results, indent=2, default=str))
    return 0


def say(message: str) -> None:
    """Progress on stderr, time-stamped (UTC), flushed (the run may be under nohup)."""
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)
