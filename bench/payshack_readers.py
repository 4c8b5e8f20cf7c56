"""PayShack readers benchmark (issue 5): the `api` and `dom` readers on one big sandbox day.

The day: exactly `--payins` pay-ins and `--payouts` pay-outs (default 20,000 and 5,000), all
created on the UTC day 2026-01-01, served by the sandbox in a process of its own. It starts
from `generate(seed=1, start=2026-01-01, days=1, per_day=1.5 x payins)` (every PayShack row of
that scenario falls on that UTC day); a kind with too many rows is sampled down (seeded), a kind
with too few is topped up with `World.add_payshack_row` copies of random generated rows of
that kind with fresh `txnId` / `orderId` / `spTxnId` (and `utr` when set), created at a random
whole second of the day. Vima operations and late changes are dropped: nothing moves during a
read. The dashboard filters by IST date, so a UTC day is read as two IST dates; no other row
falls in that window, so every row read is kept. Before any reader runs, the sandbox
serializes every row of the window once (its per-row JSON cache), untimed.

Each reader runs in a freshly spawned interpreter with its own `PayShackBrowser` (one Chromium),
after flushing Redis db 13 (so it logs in once): `read_day(payin)` then `read_day(payout)`.
Reported: Chromium launch time, login time, time to first row (from the `read_day(payin)` call,
login included), seconds and rows/s of the two reads (login included), steady-state rows/s
(rows after each kind's first page over the time from that page to the last), seconds per
Playwright call kind (waits, evaluations, clicks, requests, handles; a call running the hub's
`READ_PAGE_JS` is labelled so). The row counts and the sets of `txnId`s are checked against the
world (sha256 of the sorted ids).

No hub code is replaced: page arrivals and the login are timed by a `PayShackBrowser` subclass
(`_timed_browser`), Playwright's own classes are wrapped in the reader process. The hub's
`rows_from_table` (the dom reader's Python parsing) is no longer timed inside the read: it is
called again after the reads on the first `PARSED_TABLES` tables the dom reader read
(`parse:rows_from_table` in `timers`, formerly `read:rows_from_table`).

Memory: the reader process's peak RSS (`getrusage(RUSAGE_SELF).ru_maxrss`), and a thread of
the parent process sampling every 100 ms the RSS of the reader process and of all its
descendants (the Playwright driver `node`, the Chromium browser and its renderer, GPU, network
and other helper processes), found by walking the `ppid` of `/proc/*/stat`. The peak sums are
reported; PSS (`/proc/<pid>/smaps_rollup`, which shares shared pages out fairly) is sampled
every second. Browser processes are the `chromium` processes whose command line has no
`--type=` flag; each run must launch exactly one.

Run: `.venv/bin/python bench/payshack_readers.py [--payins 20000] [--payouts 5000]
[--reader api|dom|both] [--repeat 1] [--json out.json] [--profile [TOP]]`.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    CLOCK_TICKS,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    ProcStat,
    Profiler,
    Sampler,
    SandboxProcess,
    add_quiet_wait,
    machine_basics,
    median_of,
    process_table,
    read_stat,
    run_isolated,
    sandbox_process,
    say,
    wait_for_quiet,
)

DAY = date(2026, 1, 1)
SEED = 1
KINDS = ("payin", "payout")
READERS = ("api", "dom")
CHROMIUM = "/usr/bin/chromium"
REDIS_URL = "redis://127.0.0.1:6379/13"
SESSION_SECRET = "bench-session-secret"  # bench-only, never a real secret
TARGET_ROWS_PER_S = {"api": 2000.0, "dom": 300.0}
SAMPLE_INTERVAL = 0.1
PSS_EVERY = 10  # samples (one PSS sweep a second)
PAGE_SIZE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
PARSED_TABLES = 20
"""Tables of the dom reader's read kept to time `rows_from_table` on afterwards."""


# --------------------------------------------------------------------------- machine


def _command_output(args: list[str]) -> str:
    """First line of a command's output mentioning a digit, or "unknown"."""
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for line in (out.stdout + out.stderr).splitlines():
        if any(ch.isdigit() for ch in line) and "unexpected operator" not in line:
            return line.strip()
    return "unknown"


def machine_info() -> dict[str, Any]:
    """The machine the figures come from."""
    import importlib.metadata

    return {
        **machine_basics(),
        "chromium": _command_output([CHROMIUM, "--version"]),
        "playwright": importlib.metadata.version("playwright"),
    }


# --------------------------------------------------------------------------- /proc


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE_SIZE_KIB
    except (OSError, IndexError, ValueError):
        return 0


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


def cmdline(pid: int) -> list[str]:
    """A process's argument vector (empty if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


def exe_name(pid: int) -> str:
    """Base name of a process's executable ("" if unreadable)."""
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


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


def _is_chromium(names: set[str]) -> bool:
    return any(name.startswith("chrom") for name in names if name)


def _chromium_type(argv: list[str], comm: str) -> str:
    """A Chromium helper's `--type=` (renderer, gpu-process, utility:<service>, zygote...)."""
    words = [word for arg in argv for word in arg.split()]
    kind = next((w.split("=", 1)[1] for w in words if w.startswith("--type=")), comm)
    if kind == "utility":
        sub = next((w.split("=", 1)[1] for w in words if w.startswith("--utility-sub-type=")), "")
        kind = f"utility:{sub.split('.')[0]}" if sub else kind
    return kind


def classify(pid: int, stat: ProcStat, parent: ProcStat | None) -> tuple[str, list[str]]:
    """Role of a descendant: `browser`, `chromium` (helper), `driver` (node) or `other`.

    The browser is the Chromium process whose parent is not Chromium (the Playwright driver
    starts it) and whose command line has no `--type=` flag; every renderer, GPU, utility and
    zygote process descends from it. A process whose command line is gone (a zombie) keeps its
    earlier role; the caller decides.
    """
    argv = cmdline(pid)
    names = {exe_name(pid), stat.comm, os.path.basename(argv[0]) if argv else ""}
    if _is_chromium(names):
        # Chromium rewrites its helpers' command lines into one space-separated string
        helper = any(word.startswith("--type=") for arg in argv for word in arg.split())
        parent_chromium = parent is not None and _is_chromium({parent.comm})
        return ("chromium" if helper or parent_chromium else "browser"), argv
    if any(name.startswith("node") for name in names):
        return "driver", argv
    return "other", argv


class TreeSampler(Sampler):
    """Samples the RSS of a process and of its descendants every `interval` s, in a thread
    (one last sample once stopped)."""

    final_sample = True

    def __init__(self, root: int, interval: float = SAMPLE_INTERVAL) -> None:
        super().__init__(interval)
        self.root = root
        self.peak_kib: dict[str, int] = {}
        self.peak_pss_kib: dict[str, int] = {}
        self.roles: dict[int, str] = {}
        self.kinds: dict[int, str] = {}  # Chromium's --type= of a helper
        self.browser_argv: dict[int, list[str]] = {}
        self.cpu_ticks: dict[int, int] = {}

    def _peak(self, table: dict[str, int], key: str, value: int) -> None:
        if value > table.get(key, 0):
            table[key] = value

    def sample(self) -> None:
        """One sweep: RSS (and every `PSS_EVERY` samples PSS) of the root and of each
        descendant."""
        with_pss = self.samples % PSS_EVERY == 0
        tree = descendants(self.root)
        root = read_stat(self.root)
        if root is not None:
            tree[self.root] = root
        sums: dict[str, int] = {}
        pss_sums: dict[str, int] = {}
        for pid, stat in tree.items():
            if pid == self.root:
                role = "python"
            else:
                known = self.roles.get(pid)
                role, argv = classify(pid, stat, tree.get(stat.ppid))
                if argv or known is None:
                    self.roles[pid] = role
                    if role == "chromium":
                        self.kinds[pid] = _chromium_type(argv, stat.comm)
                else:
                    role = known  # exiting: keep the role it had
                if role == "browser" and argv:
                    self.browser_argv[pid] = argv
            self.cpu_ticks[pid] = stat.cpu_ticks
            rss = rss_kib(pid)
            sums[role] = sums.get(role, 0) + rss
            if with_pss:
                pss_sums[role] = pss_sums.get(role, 0) + pss_kib(pid)
        self._record(self.peak_kib, sums)
        if with_pss:
            self._record(self.peak_pss_kib, pss_sums)

    def _record(self, table: dict[str, int], sums: dict[str, int]) -> None:
        for role, value in sums.items():
            self._peak(table, role, value)
        chromium = sums.get("browser", 0) + sums.get("chromium", 0)
        tree = chromium + sums.get("driver", 0) + sums.get("other", 0)
        self._peak(table, "chromium_tree", chromium)
        self._peak(table, "descendants", tree)
        self._peak(table, "total", tree + sums.get("python", 0))

    def report(self) -> dict[str, Any]:
        """Peaks in MB, process counts and CPU seconds by role."""
        cpu: dict[str, float] = {}
        for pid, ticks in self.cpu_ticks.items():
            role = "python" if pid == self.root else self.roles.get(pid, "other")
            cpu[role] = cpu.get(role, 0.0) + ticks / CLOCK_TICKS
        by_type: dict[str, float] = {}
        for pid, kind in self.kinds.items():
            if self.roles.get(pid) == "chromium":
                by_type[kind] = by_type.get(kind, 0.0) + self.cpu_ticks.get(pid, 0) / CLOCK_TICKS
        counts: dict[str, int] = {}
        for role in self.roles.values():
            counts[role] = counts.get(role, 0) + 1
        return {
            "samples": self.samples,
            "peak_rss_mb": {k: round(v / 1024, 1) for k, v in sorted(self.peak_kib.items())},
            "peak_pss_mb": {k: round(v / 1024, 1) for k, v in sorted(self.peak_pss_kib.items())},
            "processes": counts,
            "browser_processes": counts.get("browser", 0),
            "browser_commands": [
                " ".join(argv)[:120]
                for pid, argv in self.browser_argv.items()
                if self.roles.get(pid) == "browser"
            ],
            "cpu_s": {k: round(v, 2) for k, v in sorted(cpu.items())},
            "chromium_helper_cpu_s": {k: round(v, 2) for k, v in sorted(by_type.items())},
        }


# --------------------------------------------------------------------------- the day


def _ids_digest(ids: Iterator[str] | list[str] | set[str]) -> str:
    """sha256 of the sorted ids, one a line."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _top_up_row(
    template: dict[str, Any], kind: str, seq: int, day_start: datetime, rng: random.Random
) -> dict[str, Any]:
    """A copy of `template` with fresh ids, created at a random whole second of the day."""
    row = dict(template)
    prefix = "PI" if kind == "payin" else "PO"
    row["txnId"] = f"{prefix}9{seq:011d}"  # generated ids are PI1... / PO1...
    row["orderId"] = f"BENCH{prefix}{seq:010d}"
    row["spTxnId"] = f"SP9{seq:015d}"
    if row.get("utr"):
        row["utr"] = str(rng.randrange(10**11, 10**12))
    created = day_start + timedelta(seconds=rng.randrange(86_400))
    row["createdAt"] = _iso_z(created)
    row["modifiedAt"] = _iso_z(created + timedelta(seconds=rng.randrange(181)))
    return row


def build_world(payins: int, payouts: int) -> tuple[Any, dict[str, Any]]:
    """A `World` with exactly `payins` pay-ins and `payouts` pay-outs created on UTC day `DAY`."""
    from hub_sandbox.scenario import generate
    from hub_sandbox.world import World

    started = time.perf_counter()
    per_day = max(100, payins * 3 // 2)
    scenario = generate(seed=SEED, start=DAY, days=1, per_day=per_day)
    rng = random.Random(SEED)
    day_start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    day_text = DAY.isoformat()
    wanted = {"payin": payins, "payout": payouts}
    generated = {"payin": scenario.payshack_payins, "payout": scenario.payshack_payouts}
    kept: dict[str, list[dict[str, Any]]] = {}
    topups: dict[str, list[dict[str, Any]]] = {}
    info: dict[str, Any] = {"per_day": per_day, "seed": SEED, "day": day_text}
    for kind in KINDS:
        rows = [r for r in generated[kind] if str(r["createdAt"]).startswith(day_text)]
        if len(rows) > wanted[kind]:
            chosen = sorted(rng.sample(range(len(rows)), wanted[kind]))
            kept[kind] = [rows[i] for i in chosen]
        else:
            kept[kind] = rows
        missing = wanted[kind] - len(kept[kind])
        topups[kind] = [
            _top_up_row(rng.choice(rows), kind, seq, day_start, rng) for seq in range(missing)
        ]
        info[kind] = {
            "generated": len(generated[kind]),
            "kept": len(kept[kind]),
            "topped_up": missing,
        }
    day_only = replace(
        scenario,
        vima_operations=[],
        payshack_payins=kept["payin"],
        payshack_payouts=kept["payout"],
        late_changes=[],
        truth=[],
    )
    world = World(day_only)
    for kind in KINDS:
        for row in topups[kind]:
            world.add_payshack_row(kind, row)  # type: ignore[arg-type]
    info["build_s"] = round(time.perf_counter() - started, 2)
    return world, info


def check_and_warm(world: Any, wanted: dict[str, int]) -> dict[str, Any]:
    """Check the world holds exactly the wanted rows in the IST window; serialize each once."""
    from hub_sandbox.world import PayShackQuery

    started = time.perf_counter()
    date_from, date_to = DAY, DAY + timedelta(days=1)  # IST dates a UTC day touches
    day_start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    out: dict[str, Any] = {}
    for kind in KINDS:
        rows = world.payshack_rows(kind)
        in_day = [
            r
            for r in rows
            if day_start
            <= datetime.fromisoformat(str(r["createdAt"]).replace("Z", "+00:00"))
            < day_start + timedelta(days=1)
        ]
        ids = {str(r["txnId"]) for r in in_day}
        _, total = world.payshack_page(kind, PayShackQuery(1, 1, None, date_from, date_to))
        if not (len(rows) == len(in_day) == len(ids) == total == wanted[kind]):
            raise RuntimeError(
                f"{kind}: world has {len(rows)} rows, {len(in_day)} on {DAY}, {len(ids)} ids, "
                f"{total} in the IST window; wanted {wanted[kind]}"
            )
        for page in range(1, math.ceil(total / 100) + 1):
            world.payshack_page(kind, PayShackQuery(page, 100, None, date_from, date_to))
        out[kind] = {"rows": total, "digest": _ids_digest(ids)}
    out["warm_s"] = round(time.perf_counter() - started, 2)
    return out


def build_day(payins: int, payouts: int) -> tuple[Any, dict[str, Any]]:
    """The benchmark day's world, checked and warmed, and what is known about it (runs in the
    sandbox process)."""
    world, info = build_world(payins, payouts)
    info["expected"] = check_and_warm(world, {"payin": payins, "payout": payouts})
    return world, info


# --------------------------------------------------------------------------- the reader run


@dataclass
class Timers:
    """Wall time and calls per instrumented Playwright call, split by phase (login / read);
    the first `PARSED_TABLES` tables the dom reader read, to time `rows_from_table` on."""

    phase: str = "setup"
    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)

    def add(self, key: str, seconds: float) -> None:
        """Count one call of `key` that took `seconds`."""
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        self.calls[key] = self.calls.get(key, 0) + 1

    def wrap(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func`, timed under `<phase>:<name>` (`<name>(READ_PAGE_JS)` when its script is
        the hub's `READ_PAGE_JS`)."""
        from hub_pipelines.sources.payshack.dom import READ_PAGE_JS

        def timed(*args: Any, **kwargs: Any) -> Any:
            label = f"{name}(READ_PAGE_JS)" if len(args) > 1 and args[1] is READ_PAGE_JS else name
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.add(f"{self.phase}:{label}", time.perf_counter() - started)

        return timed

    def keeping_tables(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func` (`JSHandle.json_value`), keeping what it returns while reading, up to
        `PARSED_TABLES` values."""

        def kept(*args: Any, **kwargs: Any) -> Any:
            value = func(*args, **kwargs)
            if self.phase == "read" and len(self.tables) < PARSED_TABLES:
                self.tables.append(value)
            return value

        return kept

    def time_parsing(self) -> None:
        """Time the hub's `rows_from_table` on the kept tables (after the reads, so their time
        is not in the reads'), under `parse:rows_from_table`."""
        import orjson

        from hub_pipelines.sources.payshack.dom import rows_from_table

        for raw in self.tables:
            table = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
            if not isinstance(table, dict) or "headers" not in table or "rows" not in table:
                continue
            started = time.perf_counter()
            rows_from_table(table["headers"], table["rows"])
            self.add("parse:rows_from_table", time.perf_counter() - started)
        self.tables.clear()

    def report(self) -> dict[str, dict[str, float]]:
        """Seconds and calls per key, slowest first."""
        order = sorted(self.seconds, key=lambda k: -self.seconds[k])
        return {k: {"s": round(self.seconds[k], 3), "calls": self.calls[k]} for k in order}


def _instrument(timers: Timers) -> None:
    """Time Playwright's page, handle and request calls in this (spawned) process; the hub's
    modules are left as they are."""
    from playwright.sync_api import APIRequestContext, APIResponse, JSHandle, Page

    for cls, names in (
        (Page, ("goto", "fill", "click", "select_option", "wait_for_function", "evaluate")),
        (Page, ("get_attribute",)),
        (JSHandle, ("json_value",)),
        (APIRequestContext, ("get",)),
        (APIResponse, ("json",)),
    ):
        for name in names:
            setattr(cls, name, timers.wrap(f"{cls.__name__}.{name}", getattr(cls, name)))
    JSHandle.json_value = timers.keeping_tables(JSHandle.json_value)  # type: ignore[method-assign]


def _timed_browser(timers: Timers, marks: dict[str, list[tuple[float, int]]]) -> type[Any]:
    """A `PayShackBrowser` subclass that marks when each page of a read arrives (in
    `marks[browser.kind]`: time, rows) and times its logins (`login_s`, the last one)."""
    from hub_pipelines.sources.payshack.browser import PayShackBrowser

    class TimedBrowser(PayShackBrowser):
        """`PayShackBrowser`, its page arrivals marked and its logins timed."""

        kind = "payin"
        login_s: float | None = None

        def login(self) -> Any:
            """`PayShackBrowser.login`, timed (its Playwright calls under `login:`)."""
            phase, timers.phase = timers.phase, "login"
            started = time.perf_counter()
            try:
                return super().login()
            finally:
                self.login_s = round(time.perf_counter() - started, 3)
                timers.phase = phase

        def _api_pages(self, *args: Any) -> Iterator[tuple[list[dict[str, Any]], int]]:
            return self._marked(super()._api_pages(*args))

        def _dom_pages(self, *args: Any) -> Iterator[tuple[list[dict[str, Any]], int]]:
            return self._marked(super()._dom_pages(*args))

        def _marked(
            self, pages: Iterator[tuple[list[dict[str, Any]], int]]
        ) -> Iterator[tuple[list[dict[str, Any]], int]]:
            for item in pages:
                marks[self.kind].append((time.perf_counter(), len(item[0])))
                yield item

    return TimedBrowser


def read_run(reader: str, base_url: str, expected: dict[str, Any], profile: int) -> dict[str, Any]:
    """One reader, one browser: `read_day(payin)` then `read_day(payout)`, timed."""
    import logging

    import redis

    from hub_core.timeutil import day_bounds
    from hub_pipelines.sources.payshack.browser import BrowserConfig, SessionStore

    logging.disable(logging.INFO)  # the hub logs each login at INFO
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    store = SessionStore(client, SANDBOX_EMAIL, SESSION_SECRET, ttl_seconds=1800)
    config = BrowserConfig(
        base_url=base_url,
        email=SANDBOX_EMAIL,
        password=SANDBOX_PASSWORD,
        chromium_path=CHROMIUM,
        timeout_ms=60_000,
    )
    timers = Timers()
    _instrument(timers)
    start, end = day_bounds(DAY)
    marks: dict[str, list[tuple[float, int]]] = {kind: [] for kind in KINDS}
    result: dict[str, Any] = {"reader": reader, "kinds": {}}
    profiler = Profiler(profile)

    t0 = time.perf_counter()
    with _timed_browser(timers, marks)(config, store) as browser:
        launched = time.perf_counter()
        result["launch_s"] = round(launched - t0, 3)
        timers.phase = "read"
        read_started = time.perf_counter()
        with profiler:
            for kind in KINDS:
                browser.kind = kind
                started = time.perf_counter()
                read = browser.read_day(kind, start, end, reader)
                finished = time.perf_counter()
                result["kinds"][kind] = _kind_figures(read, marks[kind], started, finished)
                result["kinds"][kind]["expected"] = expected[kind]["rows"]
                result["kinds"][kind]["ids_match"] = (
                    _ids_digest(read.rows) == expected[kind]["digest"]
                )
        read_finished = time.perf_counter()
        timers.phase = "close"
    closed = time.perf_counter()
    timers.time_parsing()
    if browser.login_s is not None:
        result["login_s"] = browser.login_s

    kinds = result["kinds"]
    rows = sum(k["rows"] for k in kinds.values())
    seconds = read_finished - read_started
    steady_rows = sum(k["steady_rows"] for k in kinds.values())
    steady_s = sum(k["steady_s"] for k in kinds.values())
    first = marks["payin"][0][0] if marks["payin"] else read_finished
    result.update(
        rows=rows,
        seconds=round(seconds, 3),
        rows_per_s=round(rows / seconds, 1),
        first_row_s=round(first - read_started, 3),
        first_row_from_launch_s=round(first - t0, 3),
        steady_rows_per_s=round(steady_rows / steady_s, 1) if steady_s else None,
        close_s=round(closed - read_finished, 3),
        total_s=round(closed - t0, 3),
        logins=browser.logins,
        session_reused=browser.session_reused,
        counts_ok=all(k["rows"] == k["expected"] and k["ids_match"] for k in kinds.values()),
        timers=timers.report(),
    )
    profiler.report(result)
    return result


def _kind_figures(
    read: Any, kind_marks: list[tuple[float, int]], started: float, finished: float
) -> dict[str, Any]:
    """What one `read_day` did: rows, pages, passes, its time and its pages' pace."""
    steady_rows = sum(n for _, n in kind_marks[1:])
    steady_s = kind_marks[-1][0] - kind_marks[0][0] if len(kind_marks) > 1 else 0.0
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(kind_marks)]
    return {
        "rows": len(read.rows),
        "pages": read.pages,
        "passes": read.passes,
        "complete": read.complete,
        "shifted": read.shifted,
        "seconds": round(finished - started, 3),
        "first_page_s": round(kind_marks[0][0] - started, 3) if kind_marks else None,
        "steady_rows": steady_rows,
        "steady_s": round(steady_s, 3),
        "page_gap_median_ms": round(1000 * statistics.median(gaps), 1) if gaps else None,
        "page_gap_max_ms": round(1000 * max(gaps), 1) if gaps else None,
    }


def run_reader(reader: str, sandbox: SandboxProcess, profile: int) -> dict[str, Any]:
    """One reader in a fresh spawned interpreter, its process tree sampled from here.

    Also records the machine's state around the run: the 1-minute load average before, the
    share of both cores busy during it (everything on the machine), and the sandbox's CPU time.
    """
    samplers: list[TreeSampler] = []

    def watch(pid: int) -> TreeSampler:
        samplers.append(TreeSampler(pid))
        return samplers[-1]

    sandbox0 = read_stat(sandbox.pid)
    payload = run_isolated(
        read_run,
        reader,
        sandbox.info["payshack_url"],
        sandbox.info["expected"],
        profile,
        watch=watch,
    )
    sandbox1 = read_stat(sandbox.pid)
    payload["python_peak_rss_mb"] = payload.pop("peak_rss_mb")
    payload["python_cpu_s"] = payload.pop("cpu_s")
    payload["tree"] = samplers[0].report()
    if sandbox0 is not None and sandbox1 is not None:
        payload["sandbox_cpu_s"] = round((sandbox1.cpu_ticks - sandbox0.cpu_ticks) / CLOCK_TICKS, 2)
    return payload


# --------------------------------------------------------------------------- report


def summarize(reader: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one reader, and the checks every run must pass."""

    def median(get: Callable[[dict[str, Any]], float]) -> float:
        return round(median_of(runs, get), 3)

    rows_per_s = median(lambda r: r["rows_per_s"])
    return {
        "reader": reader,
        "runs": len(runs),
        "rows": runs[0]["rows"],
        "seconds": median(lambda r: r["seconds"]),
        "rows_per_s": rows_per_s,
        "steady_rows_per_s": median(lambda r: r["steady_rows_per_s"] or 0.0),
        "first_row_s": median(lambda r: r["first_row_s"]),
        "launch_s": median(lambda r: r["launch_s"]),
        "login_s": median(lambda r: r.get("login_s", 0.0)),
        "python_peak_rss_mb": max(r["python_peak_rss_mb"] for r in runs),
        "chromium_tree_peak_rss_mb": max(
            r["tree"]["peak_rss_mb"].get("chromium_tree", 0.0) for r in runs
        ),
        "descendants_peak_rss_mb": max(
            r["tree"]["peak_rss_mb"].get("descendants", 0.0) for r in runs
        ),
        "total_peak_rss_mb": max(r["tree"]["peak_rss_mb"].get("total", 0.0) for r in runs),
        "total_peak_pss_mb": max(r["tree"]["peak_pss_mb"].get("total", 0.0) for r in runs),
        "browser_processes": sorted({r["tree"]["browser_processes"] for r in runs}),
        "counts_ok": all(r["counts_ok"] for r in runs),
        "load_before": median(lambda r: r["load_before"]),
        "machine_busy_pct": median(lambda r: r["machine_busy_pct"]),
        "target_rows_per_s": TARGET_ROWS_PER_S[reader],
        "ratio_to_target": round(rows_per_s / TARGET_ROWS_PER_S[reader], 2),
        "meets_target": rows_per_s >= TARGET_ROWS_PER_S[reader],
    }


def render_markdown(results: dict[str, Any]) -> str:
    """The results table (as in BENCHMARKS.md)."""
    lines = [
        "| reader | rows | seconds | rows/s | steady rows/s | time to first row s | "
        "peak RSS python MB | peak RSS chromium tree MB | peak RSS all descendants MB | "
        "browser processes | target | ratio | machine busy % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["summary"].values():
        lines.append(
            f"| {s['reader']} | {s['rows']:,} | {s['seconds']:.1f} | {s['rows_per_s']:,.0f} | "
            f"{s['steady_rows_per_s']:,.0f} | {s['first_row_s']:.2f} | "
            f"{s['python_peak_rss_mb']:.0f} | {s['chromium_tree_peak_rss_mb']:.0f} | "
            f"{s['descendants_peak_rss_mb']:.0f} | "
            f"{', '.join(map(str, s['browser_processes']))} | "
            f">= {s['target_rows_per_s']:,.0f} | {s['ratio_to_target']:.2f}x | "
            f"{s['machine_busy_pct']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--payins", type=int, default=20_000)
    parser.add_argument("--payouts", type=int, default=5_000)
    parser.add_argument("--reader", choices=(*READERS, "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1, help="runs per reader (medians)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    add_quiet_wait(parser)
    parser.add_argument(
        "--profile", type=int, nargs="?", const=25, default=0, help="cProfile the reads (top N)"
    )
    args = parser.parse_args(argv)
    readers = READERS if args.reader == "both" else (args.reader,)

    results: dict[str, Any] = {"machine": machine_info(), "runs": {}, "summary": {}}
    say(f"machine: {json.dumps(results['machine'])}")
    say(f"building the day: {args.payins} pay-ins, {args.payouts} pay-outs")
    with sandbox_process(build_day, args.payins, args.payouts, token_ttl=3600) as sandbox:
        info = dict(sandbox.info)
        results["day"] = info
        say(
            f"sandbox ready at {info['payshack_url']} (build {info['build_s']} s, "
            f"warm {info['expected']['warm_s']} s, RSS {info['peak_rss_mb']} MB)"
        )
        for reader in readers:
            runs = results["runs"][reader] = []
            for attempt in range(args.repeat):
                if args.quiet_wait:
                    load = wait_for_quiet(args.quiet_wait)
                    say(f"1-min load average {load:.2f}")
                say(f"reader {reader}, run {attempt + 1}/{args.repeat}")
                run = run_reader(reader, sandbox, args.profile)
                runs.append(run)
                say(
                    f"  {run['rows']} rows in {run['seconds']} s = {run['rows_per_s']} rows/s "
                    f"(steady {run['steady_rows_per_s']}), first row {run['first_row_s']} s, "
                    f"counts ok {run['counts_ok']}, browsers {run['tree']['browser_processes']}, "
                    f"peak RSS {run['tree']['peak_rss_mb']}"
                )
                if run.get("profile"):
                    print(run.pop("profile"), file=sys.stderr)
            results["summary"][reader] = summarize(reader, runs)
    print(render_markdown(results))
    print(json.dumps(results["summary"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    ok = all(s["counts_ok"] and s["browser_processes"] == [1] for s in results["summary"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
