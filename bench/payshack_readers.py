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

The floor (issue 14), the dom reader's reference, runs with it in the same invocation: a
freshly spawned interpreter with its own `PayShackBrowser` logs in, then for each kind opens
the view exactly as the dom reader does (the hub's `_open_view` and `_wait_loaded(1)`: same
IST dates, 100 rows a page; untimed) and pages it with one `page.evaluate` of `FLOOR_JS`: a
bare in-page loop that clicks the real "Next" button and waits (a `MutationObserver` on the
table) until the table shows the next page loaded, the dom reader's own condition, to the last
page, reading nothing. Its rows are those of the pages it clicked to (the day's rows less page
1's), its time the loop's (Python's `evaluate` call); its total and last page are checked. The
dom reader against it: the dom reader's steady rows/s (same span: pages after each kind's
first, from that page to the last) over the floor's rows/s, medians over the runs, and per run
pair (`floor_ratio`; target `TARGET_FLOOR_RATIO`). Runs are interleaved (api, dom, floor, then
again), so run i of each meets the same load. Where a page's time goes: CPU per page of each
process of the tree (`tree_cpu`, read at each kind's first and last page: renderer, browser,
GPU, network, driver, python), the floor's in-page split per page (click to the list
response's `responseEnd`, then to the table rendered), the read's Playwright calls per page
(`calls_ms_per_page`), and, on the floor's settled last page, the cost of one bare
`page.evaluate`, one bare `wait_for_function` + `json_value`, one hub page read
(`_wait_loaded`) and one `rows_from_table` (`probe_ms`).

Memory: the reader process's peak RSS (`getrusage(RUSAGE_SELF).ru_maxrss`), and a thread of
the parent process sampling every 100 ms the RSS of the reader process and of all its
descendants (the Playwright driver `node`, the Chromium browser and its renderer, GPU, network
and other helper processes), found by walking the `ppid` of `/proc/*/stat`. The peak sums are
reported; PSS (`/proc/<pid>/smaps_rollup`, which shares shared pages out fairly) is sampled
every second. Browser processes are the `chromium` processes whose command line has no
`--type=` flag; each run must launch exactly one.

Run: `.venv/bin/python bench/payshack_readers.py [--payins 20000] [--payouts 5000]
[--reader api|dom|floor|both] [--no-floor] [--repeat 1] [--quiet-wait 0] [--json out.json]
[--profile [TOP]]` (`both`: api and dom; the floor runs whenever dom does, unless
`--no-floor`).
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
    code_version,
    descendants,
    machine_basics,
    pss_kib,
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
FLOOR = "floor"
"""The dom reader's floor: the dashboard paged by a bare in-page loop (see `FLOOR_JS`)."""
CHROMIUM = "/usr/bin/chromium"
REDIS_URL = "redis://127.0.0.1:6379/13"
SESSION_SECRET = "bench-session-secret"  # bench-only, never a real secret
TARGET_ROWS_PER_S = {"api": 2000.0, "dom": 300.0}
TARGET_FLOOR_RATIO = 0.75
"""Issue 14: the dom reader's steady rows/s at least this share of the floor's rows/s."""
PROBE_CALLS = 20
"""Calls per round-trip probe, made by the floor run on a settled page after its loops."""
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


def tree_cpu(root: int) -> dict[str, float]:
    """CPU seconds used so far by `root` (`python`) and each of its live descendants, summed by
    role: `driver`, `browser`, and each Chromium helper by its `--type=` (`renderer`,
    `gpu-process`, `utility:network`...)."""
    tree = descendants(root)
    own = read_stat(root)
    out = {"python": own.cpu_ticks / CLOCK_TICKS if own is not None else 0.0}
    for pid, stat in tree.items():
        role, argv = classify(pid, stat, tree.get(stat.ppid))
        if role == "chromium":
            role = _chromium_type(argv, stat.comm)
        out[role] = out.get(role, 0.0) + stat.cpu_ticks / CLOCK_TICKS
    return out


def cpu_ms_per_page(
    before: dict[str, float], after: dict[str, float], pages: int
) -> dict[str, float]:
    """CPU ms per page by role between two `tree_cpu` readings (roles using none left out)."""
    if pages <= 0:
        return {}
    used = {role: after[role] - before.get(role, 0.0) for role in after}
    return {
        role: round(1000 * seconds / pages, 1)
        for role, seconds in sorted(used.items(), key=lambda item: -item[1])
        if seconds > 0
    }


def _add_cpu(total: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    """Add the CPU used between two `tree_cpu` readings to `total` (by role)."""
    for role, seconds in after.items():
        total[role] = total.get(role, 0.0) + seconds - before.get(role, 0.0)


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


def _timed_browser(
    timers: Timers,
    marks: dict[str, list[tuple[float, int]]],
    cpu_marks: dict[str, dict[str, dict[str, float]]] | None = None,
) -> type[Any]:
    """A `PayShackBrowser` subclass that marks when each page of a read arrives (in
    `marks[browser.kind]`: time, rows) and times its logins (`login_s`, the last one).

    With `cpu_marks`, the process tree's CPU (`tree_cpu`) is read just after the first page of
    a kind is marked (`first`) and once its read is over (`last`): the CPU of the steady state
    (taking the first reading, ~10-20 ms, counts against the reader).
    """
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
            cpu = cpu_marks.setdefault(self.kind, {}) if cpu_marks is not None else None
            for item in pages:
                marks[self.kind].append((time.perf_counter(), len(item[0])))
                if cpu is not None and "first" not in cpu:
                    cpu["first"] = tree_cpu(os.getpid())
                yield item
            if cpu is not None:
                cpu["last"] = tree_cpu(os.getpid())

    return TimedBrowser


def _reader_setup(base_url: str) -> tuple[Any, Any]:
    """Redis db 13 flushed (so a run logs in once), and the `SessionStore` and `BrowserConfig`
    every run uses."""
    import logging

    import redis

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
    return store, config


def read_run(reader: str, base_url: str, expected: dict[str, Any], profile: int) -> dict[str, Any]:
    """One reader, one browser: `read_day(payin)` then `read_day(payout)`, timed."""
    from hub_core.timeutil import day_bounds

    store, config = _reader_setup(base_url)
    timers = Timers()
    _instrument(timers)
    start, end = day_bounds(DAY)
    marks: dict[str, list[tuple[float, int]]] = {kind: [] for kind in KINDS}
    cpu_marks: dict[str, dict[str, dict[str, float]]] = {}
    result: dict[str, Any] = {"reader": reader, "kinds": {}}
    profiler = Profiler(profile)

    t0 = time.perf_counter()
    with _timed_browser(timers, marks, cpu_marks)(config, store) as browser:
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
        click_fallbacks = getattr(browser, "dom_click_fallbacks", None)  # older hub code: none
    closed = time.perf_counter()
    timers.time_parsing()
    if browser.login_s is not None:
        result["login_s"] = browser.login_s

    kinds = result["kinds"]
    rows = sum(k["rows"] for k in kinds.values())
    seconds = read_finished - read_started
    steady_rows = sum(k["steady_rows"] for k in kinds.values())
    steady_s = sum(k["steady_s"] for k in kinds.values())
    steady_pages = sum(max(0, len(marks[kind]) - 1) for kind in KINDS)
    pages = sum(len(marks[kind]) for kind in KINDS)
    steady_cpu: dict[str, float] = {}
    for kind in KINDS:
        window = cpu_marks.get(kind, {})
        if "first" in window and "last" in window:
            _add_cpu(steady_cpu, window["first"], window["last"])
    first = marks["payin"][0][0] if marks["payin"] else read_finished
    result.update(
        rows=rows,
        seconds=round(seconds, 3),
        rows_per_s=round(rows / seconds, 1),
        first_row_s=round(first - read_started, 3),
        first_row_from_launch_s=round(first - t0, 3),
        steady_rows_per_s=round(steady_rows / steady_s, 1) if steady_s else None,
        steady_page_ms=round(1000 * steady_s / steady_pages, 1) if steady_pages else None,
        steady_cpu_ms_per_page=cpu_ms_per_page({}, steady_cpu, steady_pages),
        close_s=round(closed - read_finished, 3),
        total_s=round(closed - t0, 3),
        logins=browser.logins,
        session_reused=browser.session_reused,
        dom_click_fallbacks=click_fallbacks,
        counts_ok=all(k["rows"] == k["expected"] and k["ids_match"] for k in kinds.values()),
        timers=timers.report(),
        calls_ms_per_page=_calls_per_page(timers, pages),
    )
    profiler.report(result)
    return result


def _calls_per_page(timers: Timers, pages: int) -> dict[str, dict[str, float]]:
    """The read's Playwright calls (`read:` timers) per page read: calls and ms."""
    if not pages:
        return {}
    return {
        key.removeprefix("read:"): {
            "calls": round(timers.calls[key] / pages, 2),
            "ms": round(1000 * timers.seconds[key] / pages, 2),
        }
        for key in sorted(timers.seconds, key=lambda k: -timers.seconds[k])
        if key.startswith("read:")
    }


FLOOR_JS = """
async ({timeoutMs, api}) => {
  const table = document.querySelector('#txn-table');
  const next = document.querySelector('#next-page');
  const first = Number(table.getAttribute('data-page'));
  const last = Number(table.getAttribute('data-total-pages'));
  performance.setResourceTimingBufferSize(100000);
  performance.clearResourceTimings();
  const clicks = [];
  const shown = [];
  const begin = performance.now();
  for (let n = first + 1; n <= last; n++) {
    const want = String(n);
    const done = () => table.getAttribute('data-state') === 'loaded'
      && table.getAttribute('data-page') === want;
    clicks.push(performance.now());
    next.click();
    const ok = done() || await new Promise((resolve) => {
      let timer = null;
      const observer = new MutationObserver(() => {
        if (done()) { observer.disconnect(); clearTimeout(timer); resolve(true); }
      });
      observer.observe(table, {attributes: true});
      timer = setTimeout(() => { observer.disconnect(); resolve(false); }, timeoutMs);
    });
    if (!ok) {
      return {error: `page ${n} did not show (state ${table.getAttribute('data-state')})`};
    }
    shown.push(performance.now());
  }
  const ms = performance.now() - begin;
  const fetches = performance.getEntriesByType('resource')
    .filter((entry) => entry.name.includes(api) && entry.startTime >= begin)
    .map((entry) => entry.responseEnd);
  return {first, last, page: Number(table.getAttribute('data-page')),
          total: Number(table.getAttribute('data-total')), ms, clicks, shown, fetches};
}
"""
"""The floor: from the page shown, click the dashboard's real "Next" button and wait, with a
`MutationObserver` on the table, until it shows the next page loaded (the dom reader's own
condition: `data-state` loaded and `data-page` the next number), page after page to the
last, reading nothing. Returns in-page times (ms): each click, each page shown, each list
response's `responseEnd` (resource timing)."""


def _floor_kind(browser: Any, kind: str, expected: int, timeout_ms: int) -> dict[str, Any]:
    """One kind paged by `FLOOR_JS`, from page 1 of the view the dom reader opens (the hub's
    `_open_view` and `_wait_loaded(1)`, untimed); times and CPU of the loop only."""
    from hub_core.timeutil import day_bounds
    from hub_pipelines.sources.payshack.browser import LIST_API, ist_dates

    date_from, date_to = ist_dates(*day_bounds(DAY))
    browser._open_view(kind, date_from, date_to)
    first_page = browser._wait_loaded(1)
    cpu0 = tree_cpu(os.getpid())
    started = time.perf_counter()
    out = browser.page.evaluate(FLOOR_JS, {"timeoutMs": timeout_ms, "api": LIST_API[kind]})
    seconds = time.perf_counter() - started
    cpu1 = tree_cpu(os.getpid())
    if "error" in out:
        raise RuntimeError(f"floor, {kind}: {out['error']}")
    clicks, shown, fetches = out["clicks"], out["shown"], out["fetches"]
    page_ms = [b - a for a, b in zip(clicks, shown, strict=True)]
    split = len(fetches) == len(clicks)
    rows = out["total"] - len(first_page["rows"])
    return {
        "rows": rows,
        "day_rows": out["total"],
        "expected": expected,
        "pages": len(clicks),
        "last_page": out["page"],
        "total_pages": out["last"],
        "seconds": round(seconds, 3),
        "in_page_s": round(out["ms"] / 1000, 3),
        "rows_per_s": round(rows / seconds, 1) if seconds else None,
        "page_ms_median": round(statistics.median(page_ms), 1) if page_ms else None,
        "page_ms_max": round(max(page_ms), 1) if page_ms else None,
        "fetch_ms_median": (
            round(statistics.median(f - c for c, f in zip(clicks, fetches, strict=True)), 1)
            if split and clicks
            else None
        ),
        "render_ms_median": (
            round(statistics.median(s - f for f, s in zip(fetches, shown, strict=True)), 1)
            if split and clicks
            else None
        ),
        "cpu": (cpu0, cpu1),
        "ok": out["total"] == expected and out["page"] == out["last"],
    }


def _probe_ms(call: Callable[[], Any], times: int = PROBE_CALLS) -> float:
    """Median ms of `times` calls of `call`."""
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        spent.append(time.perf_counter() - started)
    return round(1000 * statistics.median(spent), 2)


def floor_run(base_url: str, expected: dict[str, Any], _profile: int) -> dict[str, Any]:
    """The dom reader's floor, one browser: log in, then for each kind open the view as the dom
    reader does and page it to the end with `FLOOR_JS` (timed). Then, on the settled last
    page, the per-page costs of the reader's calls: a bare `page.evaluate` round trip, a bare
    `wait_for_function` + `json_value`, the hub's page read (`_wait_loaded`: the same with the
    in-page read and the JSON), and `rows_from_table`."""
    from hub_pipelines.sources.payshack.dom import rows_from_table

    store, config = _reader_setup(base_url)
    timers = Timers()
    _instrument(timers)
    marks: dict[str, list[tuple[float, int]]] = {kind: [] for kind in KINDS}
    result: dict[str, Any] = {"reader": FLOOR, "kinds": {}}
    t0 = time.perf_counter()
    with _timed_browser(timers, marks)(config, store) as browser:
        result["launch_s"] = round(time.perf_counter() - t0, 3)
        browser.session()
        timers.phase = "read"
        cpu: dict[str, float] = {}
        for kind in KINDS:
            figures = _floor_kind(browser, kind, expected[kind]["rows"], config.timeout_ms)
            _add_cpu(cpu, *figures.pop("cpu"))
            result["kinds"][kind] = figures
        timers.phase = "probe"
        page = browser.page
        last = result["kinds"][KINDS[-1]]["last_page"]
        table = browser._wait_loaded(last)
        result["probe_ms"] = {
            "evaluate": _probe_ms(lambda: page.evaluate("() => 0")),
            "wait_for_function+json_value": _probe_ms(
                lambda: page.wait_for_function("() => 1").json_value()
            ),
            "read_page(_wait_loaded)": _probe_ms(lambda: browser._wait_loaded(last)),
            "rows_from_table": _probe_ms(lambda: rows_from_table(table["headers"], table["rows"])),
            "rows_on_page": len(table["rows"]),
        }
        timers.phase = "close"
    if browser.login_s is not None:
        result["login_s"] = browser.login_s
    kinds = result["kinds"]
    rows = sum(k["rows"] for k in kinds.values())
    seconds = sum(k["seconds"] for k in kinds.values())
    pages = sum(k["pages"] for k in kinds.values())
    result.update(
        rows=rows,
        seconds=round(seconds, 3),
        rows_per_s=round(rows / seconds, 1),
        steady_rows_per_s=round(rows / seconds, 1),
        first_row_s=None,
        steady_page_ms=round(1000 * seconds / pages, 1) if pages else None,
        steady_cpu_ms_per_page=cpu_ms_per_page({}, cpu, pages),
        logins=browser.logins,
        counts_ok=all(k["ok"] for k in kinds.values()),
        timers=timers.report(),
    )
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
    """One reader (or the floor) in a fresh spawned interpreter, its process tree sampled from
    here.

    Also records the machine's state around the run: the 1-minute load average before, the
    share of both cores busy during it (everything on the machine), and the sandbox's CPU time.
    """
    samplers: list[TreeSampler] = []

    def watch(pid: int) -> TreeSampler:
        samplers.append(TreeSampler(pid))
        return samplers[-1]

    sandbox0 = read_stat(sandbox.pid)
    url, expected = sandbox.info["payshack_url"], sandbox.info["expected"]
    if reader == FLOOR:
        payload = run_isolated(floor_run, url, expected, profile, watch=watch)
    else:
        payload = run_isolated(read_run, reader, url, expected, profile, watch=watch)
    sandbox1 = read_stat(sandbox.pid)
    payload["python_peak_rss_mb"] = payload.pop("peak_rss_mb")
    payload["python_cpu_s"] = payload.pop("cpu_s")
    payload["tree"] = samplers[0].report()
    if sandbox0 is not None and sandbox1 is not None:
        payload["sandbox_cpu_s"] = round((sandbox1.cpu_ticks - sandbox0.cpu_ticks) / CLOCK_TICKS, 2)
    return payload


# --------------------------------------------------------------------------- report


def summarize(reader: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one reader (or the floor), and the checks every run must pass."""

    def median(get: Callable[[dict[str, Any]], float | None]) -> float | None:
        values = [get(r) for r in runs]
        if any(v is None for v in values):
            return None
        return round(statistics.median(values), 3)  # type: ignore[type-var]

    rows_per_s = median(lambda r: r["rows_per_s"])
    target = TARGET_ROWS_PER_S.get(reader)
    return {
        "reader": reader,
        "runs": len(runs),
        "rows": runs[0]["rows"],
        "seconds": median(lambda r: r["seconds"]),
        "rows_per_s": rows_per_s,
        "rows_per_s_runs": [r["rows_per_s"] for r in runs],
        "steady_rows_per_s": median(lambda r: r["steady_rows_per_s"] or 0.0),
        "steady_rows_per_s_runs": [r["steady_rows_per_s"] for r in runs],
        "steady_page_ms": median(lambda r: r.get("steady_page_ms")),
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
        "target_rows_per_s": target,
        "ratio_to_target": round(rows_per_s / target, 2) if target and rows_per_s else None,
        "meets_target": rows_per_s >= target if target and rows_per_s else None,
    }


def floor_ratio(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The dom reader against its floor: medians of the dom reader's steady rows/s (pages after
    each kind's first, from that page to the last) over the floor's rows/s (the pages its loop
    clicked to, over the loop), the same over each run pair (dom run i, floor run i, run one
    after the other), and the whole-read ratio (dom rows/s, login and view opening included)."""
    dom, floor = runs.get("dom"), runs.get(FLOOR)
    if not dom or not floor:
        return None
    dom_steady = statistics.median(r["steady_rows_per_s"] or 0.0 for r in dom)
    dom_whole = statistics.median(r["rows_per_s"] for r in dom)
    floor_rate = statistics.median(r["rows_per_s"] for r in floor)
    ratio = round(dom_steady / floor_rate, 3)
    return {
        "floor_rows_per_s": floor_rate,
        "dom_steady_rows_per_s": dom_steady,
        "dom_rows_per_s": dom_whole,
        "ratio": ratio,
        "ratio_runs": [
            round((d["steady_rows_per_s"] or 0.0) / f["rows_per_s"], 3)
            for d, f in zip(dom, floor, strict=False)
        ],
        "ratio_whole_read": round(dom_whole / floor_rate, 3),
        "target": TARGET_FLOOR_RATIO,
        "meets_target": ratio >= TARGET_FLOOR_RATIO,
    }


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def render_markdown(results: dict[str, Any]) -> str:
    """The results table (as in BENCHMARKS.md); with the floor, the dom reader against it and
    where a page's time goes."""
    lines = [
        "| reader | rows | seconds | rows/s | steady rows/s | time to first row s | "
        "peak RSS python MB | peak RSS chromium tree MB | peak RSS all descendants MB | "
        "browser processes | target | ratio | machine busy % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["summary"].values():
        target = s["target_rows_per_s"]
        lines.append(
            f"| {s['reader']} | {s['rows']:,} | {s['seconds']:.1f} | {s['rows_per_s']:,.0f} | "
            f"{s['steady_rows_per_s']:,.0f} | {_fmt(s['first_row_s'], '.2f')} | "
            f"{s['python_peak_rss_mb']:.0f} | {s['chromium_tree_peak_rss_mb']:.0f} | "
            f"{s['descendants_peak_rss_mb']:.0f} | "
            f"{', '.join(map(str, s['browser_processes']))} | "
            f"{'-' if target is None else f'>= {target:,.0f}'} | "
            f"{_fmt(s['ratio_to_target'], '.2f')}{'' if target is None else 'x'} | "
            f"{_fmt(s['machine_busy_pct'])} |"
        )
    ratio = results.get("floor_ratio")
    if ratio:
        runs = results["runs"]
        per_run = " / ".join(f"{r:.2f}" for r in ratio["ratio_runs"])
        lines += [
            "",
            f"dom reader against its floor: steady {ratio['dom_steady_rows_per_s']:,.0f} rows/s "
            f"/ floor {ratio['floor_rows_per_s']:,.0f} rows/s = **{ratio['ratio']:.2f}x** "
            f"(runs {per_run}; target >= {ratio['target']:.2f}x: "
            f"{'met' if ratio['meets_target'] else 'not met'}); whole read (login and view "
            f"opening included) {ratio['ratio_whole_read']:.2f}x",
            "",
            "| per page (medians over runs) | ms | renderer CPU ms | GPU CPU ms | "
            "browser CPU ms | driver CPU ms | python CPU ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in ("dom", FLOOR):
            page_ms = statistics.median(r["steady_page_ms"] or 0.0 for r in runs[name])

            def cpu(role: str, name: str = name) -> float:
                return statistics.median(
                    r["steady_cpu_ms_per_page"].get(role, 0.0) for r in runs[name]
                )

            lines.append(
                f"| {name} | {page_ms:.1f} | {cpu('renderer'):.1f} | {cpu('gpu-process'):.1f} | "
                f"{cpu('browser'):.1f} | {cpu('driver'):.1f} | {cpu('python'):.1f} |"
            )
        floor_kinds = [k for r in runs[FLOOR] for k in r["kinds"].values()]

        def kind_median(key: str) -> float | None:
            values = [k[key] for k in floor_kinds if k.get(key) is not None]
            return statistics.median(values) if values else None

        probes = [r["probe_ms"] for r in runs[FLOOR]]
        probe = {
            key: statistics.median(p[key] for p in probes)
            for key in probes[0]
            if key != "rows_on_page"
        }
        lines += [
            "",
            f"floor, in the page: {_fmt(kind_median('page_ms_median'), '.1f')} ms from a click "
            f"to the page shown, of which {_fmt(kind_median('fetch_ms_median'), '.1f')} ms to "
            f"the list response's last byte and {_fmt(kind_median('render_ms_median'), '.1f')} "
            "ms from there to the table rendered (medians of the kinds' per-page medians). "
            "Settled page, ms per call: "
            + ", ".join(f"{key} {value:.2f}" for key, value in probe.items()),
        ]
    return "\n".join(lines)


def contenders(reader: str, floor: bool) -> tuple[str, ...]:
    """What `--reader` runs: `both` is api and dom; the floor comes with dom unless `floor` is
    false; `floor` alone is the floor."""
    chosen = READERS if reader == "both" else (reader,)
    if floor and "dom" in chosen:
        chosen = (*chosen, FLOOR)
    return chosen


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--payins", type=int, default=20_000)
    parser.add_argument("--payouts", type=int, default=5_000)
    parser.add_argument("--reader", choices=(*READERS, FLOOR, "both"), default="both")
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="do not run the floor contender with the dom reader",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per reader (medians)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    add_quiet_wait(parser)
    parser.add_argument(
        "--profile", type=int, nargs="?", const=25, default=0, help="cProfile the reads (top N)"
    )
    args = parser.parse_args(argv)
    readers = contenders(args.reader, args.floor)

    results: dict[str, Any] = {
        "machine": machine_info(),
        "code": code_version(with_files=True),
        "runs": {reader: [] for reader in readers},
        "summary": {},
    }
    say(f"machine: {json.dumps(results['machine'])}")
    say(f"building the day: {args.payins} pay-ins, {args.payouts} pay-outs")
    with sandbox_process(build_day, args.payins, args.payouts, token_ttl=3600) as sandbox:
        info = dict(sandbox.info)
        results["day"] = info
        say(
            f"sandbox ready at {info['payshack_url']} (build {info['build_s']} s, "
            f"warm {info['expected']['warm_s']} s, RSS {info['peak_rss_mb']} MB)"
        )
        for attempt in range(args.repeat):  # interleaved: run i of each under the same load
            for reader in readers:
                if args.quiet_wait:
                    load = wait_for_quiet(args.quiet_wait)
                    say(f"1-min load average {load:.2f}")
                say(f"reader {reader}, run {attempt + 1}/{args.repeat}")
                run = run_reader(reader, sandbox, args.profile)
                results["runs"][reader].append(run)
                say(
                    f"  {run['rows']} rows in {run['seconds']} s = {run['rows_per_s']} rows/s "
                    f"(steady {run['steady_rows_per_s']}, {run['steady_page_ms']} ms a page), "
                    f"first row {run['first_row_s']} s, counts ok {run['counts_ok']}, "
                    f"browsers {run['tree']['browser_processes']}, "
                    f"peak RSS {run['tree']['peak_rss_mb']}"
                )
                if run.get("profile"):
                    print(run.pop("profile"), file=sys.stderr)
    for reader in readers:
        results["summary"][reader] = summarize(reader, results["runs"][reader])
    results["floor_ratio"] = floor_ratio(results["runs"])
    print(render_markdown(results))
    print(json.dumps({**results["summary"], "floor_ratio": results["floor_ratio"]}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    ok = all(s["counts_ok"] and s["browser_processes"] == [1] for s in results["summary"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
