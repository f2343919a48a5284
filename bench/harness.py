"""What the benchmarks share: settings, processes, the API token, HTTP, wrk and seed data.

Everything here starts or talks to the service exactly as production does (granian through
`python -m datastorage.serve`, `manage.py run_worker`, Bearer tokens); nothing here imports
the application except `deep_cursor`, which borrows the records API's own cursor encoding,
and `server_settings`, which reads the launcher's defaults (bench/retention.py sets Django
up in its own process, to call the worker's retention service with a `now` of its choice).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import http.client
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
STORAGE = "dogs"
RECORDS = f"/api/v1/storage/{STORAGE}/"
WRK_HINT = "wrk not found: install the Debian package 'wrk' (sudo apt-get install wrk)."

# The records issue's dogs example, btree indexes only (they work on every database).
DOGS = {
    "name": STORAGE,
    "description": "Dogs out of the animal registry feed",
    "primary_key": {"name": "id", "type": "serial"},
    "fields": [
        {"name": "name", "type": "text", "max_length": 120, "required": True},
        {"name": "breed", "type": "text", "nullable": True},
        {"name": "age", "type": "integer", "min": 0, "max": 40, "default": 0},
        {"name": "weight_kg", "type": "decimal", "max_digits": 6, "decimal_places": 2},
        {"name": "vaccinated", "type": "boolean", "default": False},
        {"name": "born", "type": "date"},
        {"name": "registered_at", "type": "datetime", "required": True},
        {"name": "chip", "type": "uuid"},
        {"name": "size", "type": "text", "choices": ["small", "medium", "large"]},
        {"name": "extra", "type": "json"},
    ],
    "indexes": [
        {"fields": ["breed"]},
        {"fields": ["name", "born"], "unique": True},
    ],
}
COLUMNS = tuple(f["name"] for f in DOGS["fields"])
# Storages of the same records in two shapes (issue 20: a page's cost should not depend on
# the data's shape): "rich", the dogs definition with a json value in every record, and
# "plain", without its json, decimal and uuid fields. Same breeds, same filter selectivity.
PLAIN_DROPPED = ("weight_kg", "chip", "extra")
SHAPES = ("rich", "plain")
SYSTEM_COLUMNS = ("_version", "_created_at", "_updated_at")
BREEDS = (
    "beagle", "labrador", "poodle", "boxer", "collie", "dachshund", "husky", "pug", "terrier",
    "whippet", "basset", "greyhound", "mastiff", "samoyed", "spaniel", "akita", "bulldog",
    "corgi", "dalmatian", "shiba",
)  # fmt: skip
SIZES = ("small", "medium", "large")
COLORS = ("black", "brown", "white", "tan", "grey")
EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


# --- settings -----------------------------------------------------------------------------


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        sys.exit(f"{name} must be a whole number, not {raw!r}")


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "The benchmarks need PostgreSQL: run them through `make bench` / `make bench-schema` "
            "(a throwaway cluster), or set DATABASE_URL=postgres://... to a database you can "
            "spare (they create a storage 'dogs' and fill it)."
        )
    return url


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        print(WRK_HINT, file=sys.stderr)
        sys.exit(4)
    return path


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every `finally` (stopping processes) runs."""

    def _raise(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)


def web_concurrency() -> int:
    """WEB_CONCURRENCY, else the production server's default (datastorage/serve.py)."""
    return env_int("WEB_CONCURRENCY", int(_launcher().WORKERS))


def server_settings(env: dict[str, str]) -> dict[str, Any]:
    """What the benchmarks' server runs with, for their reports: granian's workers and
    blocking threads per worker, the launcher's defaults where `env` sets nothing."""
    launcher = _launcher()
    threads = env.get("GRANIAN_BLOCKING_THREADS") or launcher.DEFAULTS["GRANIAN_BLOCKING_THREADS"]
    return {
        "server": "granian WSGI (python -m datastorage.serve)",
        "web_concurrency": int(env.get("WEB_CONCURRENCY") or launcher.WORKERS),
        "blocking_threads": int(threads),
    }


def _launcher() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from datastorage import serve

    return serve


def step(message: str) -> None:
    """A progress line, with the UTC time."""
    now = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
    print(f"[{now}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def utc_stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    wrk = shutil.which("wrk")
    version = ""
    if wrk is not None:
        shown = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        version = (shown.stdout or shown.stderr).split(" [")[0].strip()
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "cpu": model.group(1) if model else "unknown",
        "python": sys.version.split()[0],
        "wrk": version or None,
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }


# --- processes ----------------------------------------------------------------------------


def _die_with_parent() -> None:
    # If the benchmark is killed outright, its servers get SIGTERM instead of living on.
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Processes:
    """Starts long-running processes and stops every one of them on exit, however it exits.

    The children stay in our process group, so a Ctrl-C in the terminal reaches them too;
    all but the server, which gets SIGTERM from `stop_all` instead (see `server`).
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[tuple[str, subprocess.Popen]] = []

    def __enter__(self) -> Processes:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(
        self, name: str, argv: list[str], env: dict[str, str], own_session: bool = False
    ) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
            # Safe here: every process is started before the benchmark starts a thread.
            preexec_fn=_die_with_parent,
        )
        log.close()
        self.running.append((name, proc))
        return proc

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def stop_all(self) -> None:
        for _, proc in reversed(self.running):
            if proc.poll() is None:
                proc.terminate()
        for name, proc in reversed(self.running):
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop on SIGTERM; killing it", file=sys.stderr)
                # Children first: granian's workers outlive a main process killed alone.
                for pid in _descendants(proc.pid):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                proc.kill()
                proc.wait()
        self.running.clear()

    def server(self, name: str, env: dict[str, str], app: str = "") -> int:
        """The production server (`python -m datastorage.serve`) on a free port, serving the
        API or, given `app`, another WSGI app with the same settings."""
        port = free_port()
        env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
        argv = [sys.executable, "-m", "datastorage.serve", *([app] if app else [])]
        # A session of its own: a Ctrl-C would also send SIGINT to granian's workers, which
        # then ignore their main process's SIGTERM (docs/operations.md, known differences).
        proc = self.start(name, argv, env, own_session=True)
        wait_for_http(port, "/api/v1/health/live/", proc, self.log_path(name))
        return port

    def worker(self, env: dict[str, str]) -> subprocess.Popen:
        return self.start("worker", [sys.executable, "manage.py", "run_worker"], env)


def wait_for_http(port: int, path: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}:\n{tail(log)}")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port} within 60 s; see {log}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def prepare_database(env: dict[str, str]) -> str:
    """Migrate, then issue an admin token; the token is the last line of stdout."""
    manage("migrate", "--no-input", env=env)
    return manage("issue_token", "bench", "--admin", env=env).strip().splitlines()[-1]


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


class Client:
    """One keep-alive connection to the API, with the Bearer token on every request (or
    another `authorization` header: Kinto's Basic credentials)."""

    def __init__(
        self, port: int, token: str, timeout: float = 300, authorization: str | None = None
    ) -> None:
        self.port, self.token, self.timeout = port, token, timeout
        self.authorization = authorization or f"Bearer {token}"
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        sent = {"Authorization": self.authorization, **_header_names(headers)}
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else orjson.dumps(body)
            sent["Content-Type"] = "application/json"
        for attempt in (1, 2):
            reused = self.conn is not None
            try:
                return self._send(method, path, payload, sent)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()  # the server closed an idle keep-alive connection: resend once
                if attempt == 2 or not reused:
                    raise
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, payload: bytes | None, headers: dict) -> Reply:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        self.conn.request(method, path, body=payload, headers=headers)
        response = self.conn.getresponse()
        body = response.read()
        if response.will_close:
            self.close()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _header_names(headers: dict[str, str]) -> dict[str, str]:
    # Keyword arguments cannot hold '-': if_match= becomes If-Match.
    return {"-".join(p.capitalize() for p in k.split("_")): v for k, v in headers.items()}


def expect(reply: Reply, status: int, what: str) -> Any:
    if reply.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {reply.status}: {reply.body[:600]!r}")
    return reply.json()


def create_dogs(client: Client) -> None:
    expect(client.request("POST", "/api/v1/factory/storage/", DOGS), 201, "create storage")


# --- seed data ----------------------------------------------------------------------------


def seed_batches(rows: int, size: int) -> list[tuple[int, int]]:
    """(batch number, rows in it) for a seed of `rows` rows cut into batches of `size`."""
    return [(b, min(size, rows - b * size)) for b in range(-(-rows // size))]


def dog_rows(batch: int, size: int, count: int) -> list[tuple]:
    """`count` rows of batch `batch`: the same rows every time (for the API and for COPY)."""
    rng = random.Random(batch)
    rows = []
    for i in range(batch * size, batch * size + count):
        rows.append(
            (
                f"dog-{i}",
                None if rng.random() < 0.02 else rng.choice(BREEDS),
                rng.randrange(0, 16),
                Decimal(rng.randrange(100, 9000)) / 100,
                rng.random() < 0.7,
                datetime.date(2008, 1, 1) + datetime.timedelta(days=rng.randrange(6000)),
                EPOCH + datetime.timedelta(seconds=rng.randrange(50_000_000)),
                uuid.UUID(int=rng.getrandbits(128), version=4),
                rng.choice(SIZES),
                {"color": rng.choice(COLORS), "tags": ["seed"]} if rng.random() < 0.5 else None,
            )
        )
    return rows


def shaped_definition(shape: str) -> dict[str, Any]:
    """The dogs definition under the name `shape`, without PLAIN_DROPPED when "plain"."""
    fields = DOGS["fields"]
    if shape == "plain":
        fields = [f for f in fields if f["name"] not in PLAIN_DROPPED]
    return {**DOGS, "name": shape, "fields": fields}


def shaped_records(batch: int, size: int, count: int, shape: str) -> list[dict[str, Any]]:
    """dog_rows as records of `shape`: "rich" gives every record a json value (the dogs
    give half of them one), "plain" drops PLAIN_DROPPED. The same breeds in every shape."""
    records = [dict(zip(COLUMNS, row, strict=True)) for row in dog_rows(batch, size, count)]
    for number, record in enumerate(records):
        if shape == "rich" and record["extra"] is None:
            record["extra"] = {"color": COLORS[number % len(COLORS)], "tags": ["seed"]}
        elif shape == "plain":
            for name in PLAIN_DROPPED:
                del record[name]
    return records


def bulk_body(rows: list[tuple]) -> bytes:
    return orjson.dumps([dict(zip(COLUMNS, row, strict=True)) for row in rows], default=str)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: list[tuple], stamp: str) -> bytes:
    """The rows in COPY's text format, plus the system columns (_version, _created_at,
    _updated_at) that the API fills in."""
    lines = []
    for row in rows:
        cells = [_copy_cell(value) for value in row]
        lines.append("\t".join([*cells, "1", stamp, stamp]))
    return ("\n".join(lines) + "\n").encode()


def _copy_cell(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict):
        return orjson.dumps(value).decode().translate(_COPY_ESCAPES)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def copy_seed(conn: Any, table: str, rows: int, batch_size: int) -> tuple[float, float | None]:
    """COPY the seed's `rows` rows into `table` through psycopg, in one COPY and one
    transaction. Returns the seconds taken, encoding excluded (done beforehand), and the
    share of the CPUs other processes used meanwhile (CpuMeter)."""
    now = datetime.datetime.now(datetime.UTC).isoformat()
    chunks = [copy_text(dog_rows(b, batch_size, n), now) for b, n in seed_batches(rows, batch_size)]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, [*COLUMNS, *SYSTEM_COLUMNS])),
    )
    meter = CpuMeter()
    before = meter.sample()
    with timed() as took:
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for chunk in chunks:
                copy.write(chunk)
        conn.commit()
    return took[0], meter.others_share(before)


def one_dog(name: str) -> dict[str, Any]:
    """A single record, as the writers of the benchmarks post it."""
    return {
        "name": name,
        "breed": "beagle",
        "age": 3,
        "weight_kg": "12.50",
        "registered_at": "2024-05-01T12:00:00Z",
    }


def deep_cursor(key: int) -> str:
    """The records API's `next` cursor after the row with this key, in the default
    (primary key) ordering: built with the API's own encoder rather than by paging."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from storage.keyset import NEXT, Ordering, encode_cursor

    return encode_cursor(Ordering("id", False, "id"), NEXT, key, key)


# --- wrk ----------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int
    socket_errors: dict[str, int]
    extra: dict[str, float] = field(default_factory=dict)
    output: str = ""


def run_wrk(
    script: str,
    url: str,
    args: list[str],
    *,
    duration: int,
    token: str,
    authorization: str | None = None,
) -> WrkResult:
    """2 threads, 16 keep-alive connections, latency percentiles; the token travels in the
    environment (BENCH_TOKEN), not on the command line, and so does `authorization`, a
    whole Authorization header instead of the Bearer token (BENCH_AUTH: Kinto's)."""
    argv = [
        "wrk", "-t2", "-c16", f"-d{duration}s", "--timeout", "30s", "--latency",
        "-s", str(BENCH / script), url, *(["--", *args] if args else []),
    ]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, env=_wrk_env(token, authorization), check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return parse_wrk(done.stdout)


def _wrk_env(token: str, authorization: str | None) -> dict[str, str]:
    env = {**os.environ, "BENCH_TOKEN": token}
    env.pop("BENCH_AUTH", None)
    if authorization is not None:
        env["BENCH_AUTH"] = authorization
    return env


def parse_wrk(output: str) -> WrkResult:
    def number(pattern: str, default: str | None = None) -> str:
        found = re.search(pattern, output, re.MULTILINE)
        if found is None:
            if default is None:
                raise RuntimeError(f"cannot read {pattern!r} in wrk's output:\n{output}")
            return default
        return found.group(1)

    def percentile(p: int) -> float:
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no {p}% latency in wrk's output:\n{output}")
        return float(found.group(1)) * _UNITS_MS[found.group(2)]

    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    names = ("connect", "read", "write", "timeout")
    return WrkResult(
        requests_per_s=float(number(r"^Requests/sec:\s+([\d.]+)")),
        p50_ms=percentile(50),
        p99_ms=percentile(99),
        non_2xx=int(number(r"Non-2xx or 3xx responses:\s+(\d+)", "0")),
        requests=int(number(r"^\s+(\d+) requests in ")),
        socket_errors={n: int(v) for n, v in zip(names, sockets.groups(), strict=True)}
        if sockets
        else dict.fromkeys(names, 0),
        extra={k: float(v) for k, v in re.findall(r"^BENCH (\w+)=(\S+)$", output, re.MULTILINE)},
        output=output,
    )


# --- CPU used by others ------------------------------------------------------------------


class CpuMeter:
    """How much of the machine's CPU went to processes that are not the benchmark's (its
    own tree, and the throwaway PostgreSQL when with_postgres.py started it): a benchmark
    shares the machine, and figures taken while something else ran are worth less."""

    def __init__(self) -> None:
        self.postmaster = _postmaster_pid()

    def sample(self) -> tuple[float, int, int]:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
        ours = {os.getpid(), *_descendants(os.getpid())}
        if self.postmaster is not None:
            ours |= {self.postmaster, *_descendants(self.postmaster)}
        mine = sum(_cpu_ticks(pid) for pid in ours)
        return time.monotonic(), user + nice + system + irq + softirq + steal, mine

    def others_share(self, before: tuple[float, int, int]) -> float | None:
        """Percent of all CPUs used by other processes since `before` (None if unknown)."""
        if self.postmaster is None:
            return None
        after = self.sample()
        capacity = (after[0] - before[0]) * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
        others = (after[1] - before[1]) - (after[2] - before[2])
        return round(max(others, 0) / capacity * 100, 1) if capacity else None


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its descendants used so far: a server's
    own cost, which other load on the machine changes far less than its rate."""
    ticks = sum(_cpu_ticks(each) for each in (pid, *_descendants(pid)))
    return ticks / os.sysconf("SC_CLK_TCK")


def _postmaster_pid() -> int | None:
    found = re.search(r"-D (\S+)", os.environ.get("DATASTORAGE_TEST_PG_CTL", ""))
    if found is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        return int((Path(found.group(1)) / "postmaster.pid").read_text().split()[0])
    return None


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in map(int, children.read_text().split()):
                found += [child, *_descendants(child)]
    return found


def _cpu_ticks(pid: int) -> int:
    """user + system time of a process and of its reaped children, in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(value) for value in fields[11:15])


# --- the server's own account -------------------------------------------------------------


class RequestLog:
    """Reads the service's JSON request log from where it was last read: what the server
    answered (statuses), and the stack traces it logged (any 500)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def skip(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def read(self) -> dict[str, Any]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        self.offset += len(chunk)
        statuses: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        errors = []
        for line in chunk.splitlines():
            with contextlib.suppress(ValueError):
                entry = orjson.loads(line)
                if "status" in entry and "method" in entry:
                    statuses[str(entry["status"])] += 1
                    if entry["status"] >= 400:
                        failures[f"{entry['method']} {entry['status']}"] += 1
                elif entry.get("level") in ("ERROR", "CRITICAL"):
                    errors.append(entry.get("message", "")[:300])
        return {"statuses": dict(statuses), "failures": dict(failures), "errors": errors[:5]}


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """`with timed() as t:` ... then t[0] holds the seconds the block took."""
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)
