"""`make bench-peers`: datastorage and Kinto, the real peer, side by side in one run.

Runs against the PostgreSQL in DATABASE_URL for datastorage (`make bench-peers` starts a
throwaway cluster) and starts a second throwaway cluster, with the same settings, for
Kinto. Kinto (bench/kinto-requirements.txt, pinned; its own virtualenv in bench/.kinto,
made by the make target) is served by gunicorn with KINTO_WORKERS (4) sync workers and its
PostgreSQL backends for storage, permissions and cache; datastorage as production serves
it (granian through `python -m datastorage.serve`, WEB_CONCURRENCY workers, default 2).
Both get BENCH_ROWS (10,000) records of the same content, the README's `dogs`, keyed 1 to
BENCH_ROWS on both sides; then each operation runs against one service and then the
other with the same wrk settings (2 threads, 16 connections, BENCH_DURATION s after
BENCH_WARMUP s of unmeasured load), in BENCH_ROUNDS rounds that alternate who goes first.
Then the filtered page on two more storages of datastorage, `rich` (a json value in every
record) and `plain` (no json, decimal or uuid field), alternately. Prints one table and
writes every figure to bench/results/<UTC timestamp>-peers.json.

    BENCH_ROWS (10000)  BENCH_DURATION (8)  BENCH_WARMUP (2)  BENCH_ROUNDS (2)
    WEB_CONCURRENCY (2)  KINTO_WORKERS (4)
    KINTO_GUNICORN_ARGS (none: sync workers; e.g. "--worker-class gthread --threads 4")
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import harness
import orjson
from harness import RECORDS, Client, Processes, step

KINTO_VENV = harness.BENCH / ".kinto"
KINTO_USER, KINTO_PASSWORD = "bench", "bench-peers"
KINTO_AUTH = "Basic " + base64.b64encode(f"{KINTO_USER}:{KINTO_PASSWORD}".encode()).decode()
KINTO_RECORDS = "/v1/buckets/bench/collections/dogs/records"
KINTO_BATCH = 500  # subrequests per /v1/batch while seeding (kinto.batch_max_requests)
FILTERED = f"{RECORDS}?breed=beagle&limit=20"
KINTO_FILTERED = f"{KINTO_RECORDS}?breed=beagle&_limit=20"
WRK_THREADS = 2

KINTO_INI = """\
[app:main]
use = egg:kinto
kinto.storage_backend = kinto.core.storage.postgresql
kinto.storage_url = {url}
kinto.permission_backend = kinto.core.permission.postgresql
kinto.permission_url = {url}
kinto.cache_backend = kinto.core.cache.postgresql
kinto.cache_url = {url}
kinto.userid_hmac_secret = {secret}
multiauth.policies = basicauth
kinto.bucket_create_principals = system.Authenticated
kinto.batch_max_requests = {batch}

[loggers]
keys = root, kinto

[handlers]
keys = console

[formatters]
keys = json

[logger_root]
level = INFO
handlers = console

[logger_kinto]
level = INFO
handlers = console
qualname = kinto
propagate = 0

[handler_console]
class = kinto.core.StreamHandlerWithRequestID
args = (sys.stderr,)
level = NOTSET
formatter = json

[formatter_json]
class = kinto.core.JsonLogFormatter
"""


@dataclass(frozen=True)
class Config:
    rows: int
    duration: int
    warmup: int
    rounds: int
    workers: int
    kinto_workers: int

    @classmethod
    def from_env(cls) -> Config:
        config = cls(
            rows=harness.env_int("BENCH_ROWS", 10_000),
            duration=harness.env_int("BENCH_DURATION", 8),
            warmup=harness.env_int("BENCH_WARMUP", 2),
            rounds=max(1, harness.env_int("BENCH_ROUNDS", 2)),
            workers=harness.web_concurrency(),
            kinto_workers=harness.env_int("KINTO_WORKERS", 4),
        )
        if config.rows < 4 * WRK_THREADS:
            sys.exit("BENCH_ROWS is too small")
        return config


@dataclass(frozen=True)
class Side:
    """One service as the operations see it: where it listens and how it is asked."""

    name: str
    base: str
    pid: int
    postmaster: int | None
    authorization: str | None  # None: datastorage's Bearer token


@dataclass(frozen=True)
class Run:
    operation: str
    side: str
    script: str
    url: str
    args: tuple[str, ...] = ()
    warmup_args: tuple[str, ...] | None = None


def main() -> int:
    harness.require_wrk()
    harness.stop_on_sigterm()
    harness.database_url()
    if not (KINTO_VENV / "bin" / "gunicorn").exists():
        sys.exit(f"Kinto's virtualenv is missing ({KINTO_VENV}): run `make bench-peers`.")
    config = Config.from_env()
    stamp = harness.utc_stamp()
    env = {**os.environ, "WEB_CONCURRENCY": str(config.workers), "BENCH_STAMP": stamp}
    report: dict[str, Any] = {
        "started_at": stamp,
        "machine": harness.machine(),
        "settings": {**asdict(config), **_settings(env, config)},
    }
    try:
        with Processes(harness.RESULTS / stamp) as processes, kinto_postgres() as kinto_pg:
            report.update(_measure(processes, env, config, kinto_pg))
    except KeyboardInterrupt:
        print("\ninterrupted; every process the benchmark started was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    path = harness.RESULTS / f"{stamp}-peers.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print_report(report, path)
    return 0


def _settings(env: dict[str, str], config: Config) -> dict[str, Any]:
    kinto = subprocess.run(
        [str(KINTO_VENV / "bin" / "pip"), "freeze"], capture_output=True, text=True, check=False
    ).stdout.split()
    return {
        "datastorage": harness.server_settings(env),
        "kinto": {
            "server": f"gunicorn {config.kinto_workers} workers (--paste kinto.ini"
            + "".join(f" {arg}" for arg in shlex.split(os.environ.get("KINTO_GUNICORN_ARGS", "")))
            + ")",
            "packages": [p for p in kinto if p.lower().startswith(("kinto==", "gunicorn=="))],
            "backends": "PostgreSQL storage, permission and cache, own throwaway cluster",
        },
        "wrk": f"{WRK_THREADS} threads, 16 connections, keep-alive",
    }


# --- Kinto's PostgreSQL and server --------------------------------------------------------


@contextlib.contextmanager
def kinto_postgres() -> Iterator[dict[str, Any]]:
    """A throwaway cluster of its own, set up as scripts/with_postgres.py sets up ours (the
    same settings: fsync off and the rest), stopped and deleted on exit."""
    spec = importlib.util.spec_from_file_location(
        "with_postgres", harness.ROOT / "scripts" / "with_postgres.py"
    )
    pg = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(pg)  # type: ignore[union-attr]
    bindir = pg.find_bindir()
    if bindir is None:
        sys.exit(pg.PACKAGE_HINT)
    prefix = pg.run_as_prefix()
    workdir = tempfile.mkdtemp(prefix="datastorage-kinto-pg-")
    datadir = os.path.join(workdir, "data")
    if prefix:
        shutil.chown(workdir, user="postgres")
    port = pg.free_port()
    pg_ctl = [*prefix, os.path.join(bindir, "pg_ctl"), "-D", datadir]
    step("start Kinto's own PostgreSQL")
    try:
        subprocess.run(
            [*prefix, os.path.join(bindir, "initdb"), "-D", datadir, "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        options = (
            f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        log = os.path.join(workdir, "server.log")
        subprocess.run(
            [*pg_ctl, "start", "-w", "-o", options, "-l", log],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        postmaster = int(Path(datadir, "postmaster.pid").read_text().split()[0])
        yield {"url": f"postgresql://postgres@127.0.0.1:{port}/postgres", "pid": postmaster}
    finally:
        subprocess.run(
            [*pg_ctl, "stop", "-m", "fast"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(workdir, ignore_errors=True)


def start_kinto(processes: Processes, url: str, workers: int) -> tuple[int, int, int]:
    """Migrate Kinto's backends, then serve Kinto and the ceiling app with gunicorn:
    (Kinto's port, its gunicorn's pid, the ceiling's port)."""
    ini = processes.log_dir / "kinto.ini"
    secret = os.urandom(16).hex()
    ini.write_text(KINTO_INI.format(url=url, secret=secret, batch=KINTO_BATCH))
    done = subprocess.run(
        [str(KINTO_VENV / "bin" / "kinto"), "migrate", "--ini", str(ini)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kinto migrate failed:\n{done.stderr}{done.stdout}")
    gunicorn = str(KINTO_VENV / "bin" / "gunicorn")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "PYTHON"))}
    port = harness.free_port()
    more = shlex.split(os.environ.get("KINTO_GUNICORN_ARGS", ""))
    argv = [gunicorn, "--paste", str(ini), "-w", str(workers), "-b", f"127.0.0.1:{port}", *more]
    kinto = processes.start("kinto", argv, env, own_session=True)
    harness.wait_for_http(port, "/v1/__heartbeat__", kinto, processes.log_path("kinto"))
    ceiling = harness.free_port()
    argv = [gunicorn, "--chdir", str(harness.BENCH), "-w", str(workers)]
    argv += ["-b", f"127.0.0.1:{ceiling}", *more, "ceiling:application"]
    proc = processes.start("kinto-ceiling", argv, env, own_session=True)
    harness.wait_for_http(ceiling, "/", proc, processes.log_path("kinto-ceiling"))
    return port, kinto.pid, ceiling


# --- seeding ------------------------------------------------------------------------------


def seed_datastorage(client: Client, rows: int) -> None:
    harness.create_dogs(client)
    for shape in harness.SHAPES:
        definition = harness.shaped_definition(shape)
        harness.expect(client.request("POST", "/api/v1/factory/storage/", definition), 201, shape)
    for batch, count in harness.seed_batches(rows, 10_000):
        bodies = {"dogs": harness.bulk_body(harness.dog_rows(batch, 10_000, count))}
        for shape in harness.SHAPES:
            records = harness.shaped_records(batch, 10_000, count, shape)
            bodies[shape] = orjson.dumps(records, default=str)
        for name, body in bodies.items():
            reply = client.request("POST", f"/api/v1/storage/{name}/", body)
            if reply.status != 201:
                raise RuntimeError(f"seed {name}: {reply.status} {reply.body[:300]!r}")


def seed_kinto(port: int, rows: int) -> None:
    """The dogs' records, keyed 1..rows as datastorage keys them, PUT in batches, one at a
    time (concurrent writes to one collection may answer 409 in Kinto)."""
    client = Client(port, "", authorization=KINTO_AUTH)
    harness.expect(client.request("PUT", "/v1/buckets/bench"), 201, "Kinto bucket")
    collection = "/v1/buckets/bench/collections/dogs"
    harness.expect(client.request("PUT", collection), 201, "Kinto collection")
    key = 0
    requests = []
    for batch, count in harness.seed_batches(rows, 10_000):
        for row in harness.dog_rows(batch, 10_000, count):
            key += 1
            record = orjson.loads(
                orjson.dumps(dict(zip(harness.COLUMNS, row, strict=True)), default=str)
            )
            requests.append({"path": f"{KINTO_RECORDS}/{key}", "body": {"data": record}})
    for start in range(0, len(requests), KINTO_BATCH):
        body = {"defaults": {"method": "PUT"}, "requests": requests[start : start + KINTO_BATCH]}
        answers = harness.expect(client.request("POST", "/v1/batch", body), 200, "Kinto batch")
        bad = [a["status"] for a in answers["responses"] if a["status"] != 201]
        if bad:
            raise RuntimeError(f"Kinto batch: statuses {bad[:5]}")


# --- the run ------------------------------------------------------------------------------


def _measure(
    processes: Processes, env: dict, config: Config, kinto_pg: dict[str, Any]
) -> dict[str, Any]:
    step("migrate and issue an admin token (datastorage)")
    token = harness.prepare_database(env)
    step(f"start granian ({config.workers} workers): datastorage and its ceiling app")
    ours = processes.server("api", env)
    ours_pid = processes.running[-1][1].pid
    our_ceiling = processes.server("ceiling", env, "bench/ceiling.py:application")
    step(f"migrate Kinto, start gunicorn ({config.kinto_workers} workers): Kinto and a ceiling")
    kinto, kinto_pid, kinto_ceiling = start_kinto(processes, kinto_pg["url"], config.kinto_workers)
    step(f"seed {config.rows:,} records into each service (and rich, plain)")
    client = Client(ours, token)
    seed_datastorage(client, config.rows)
    seed_kinto(kinto, config.rows)
    kinto_client = Client(kinto, token, authorization=KINTO_AUTH)
    _check(client, kinto_client)
    settle(harness.database_url(), kinto_pg["url"])
    sides = {
        "datastorage": Side(
            "datastorage", f"http://127.0.0.1:{ours}", ours_pid, harness.CpuMeter().postmaster,
            None,
        ),
        "kinto": Side("kinto", f"http://127.0.0.1:{kinto}", kinto_pid, kinto_pg["pid"], KINTO_AUTH),
    }  # fmt: skip
    ceilings = {"datastorage": our_ceiling, "kinto": kinto_ceiling}
    logs = {"datastorage": harness.RequestLog(processes.log_path("api"))}
    runs = []
    for number in range(config.rounds):
        order = ["kinto", "datastorage"] if number % 2 == 0 else ["datastorage", "kinto"]
        for operation in plan(config, sides, ceilings, number):
            for side in order:
                runs.append(run_one(operation[side], sides[side], logs, token, config))
        # Twice each, ABBA: the pair is what a run compares, and the machine drifts.
        first, second = ("rich", "plain") if number % 2 == 0 else ("plain", "rich")
        shapes = [first, second, second, first]
        for shape in shapes:
            url = f"{sides['datastorage'].base}/api/v1/storage/{shape}/?breed=beagle&limit=20"
            run = Run(f"filtered page, {shape}", "datastorage", "static_get.lua", url)
            runs.append(run_one(run, sides["datastorage"], logs, token, config))
    return {"runs": runs}


def settle(*urls: str) -> None:
    """VACUUM ANALYZE and CHECKPOINT both databases after the seed, as bench/run.py does."""
    import psycopg

    for url in urls:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
            with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
                conn.execute("CHECKPOINT")


def _check(client: Client, kinto: Client) -> None:
    """The pages and records both services answer are what the runs expect."""
    ours = harness.expect(client.request("GET", FILTERED), 200, "filtered page")
    theirs = harness.expect(kinto.request("GET", KINTO_FILTERED), 200, "Kinto filtered page")
    if len(ours["results"]) != 20 or len(theirs["data"]) != 20:
        raise RuntimeError("a filtered page does not hold 20 records")
    one = harness.expect(client.request("GET", f"{RECORDS}1/"), 200, "record 1")
    other = harness.expect(kinto.request("GET", f"{KINTO_RECORDS}/1"), 200, "Kinto record 1")[
        "data"
    ]
    if one["name"] != other["name"] or one["extra"] != other["extra"]:
        raise RuntimeError(f"record 1 differs: {one} against {other}")
    for shape in harness.SHAPES:
        page = harness.expect(client.request("GET", FILTERED.replace("dogs", shape)), 200, shape)
        if len(page["results"]) != 20:
            raise RuntimeError(f"the {shape} page does not hold 20 records")


def plan(
    config: Config, sides: dict[str, Side], ceilings: dict[str, int], number: int
) -> list[dict[str, Run]]:
    """The operations, each as run against either side."""
    rows = config.rows
    pool = rows // (2 * WRK_THREADS)  # records per wrk thread in the update run
    stride = max(1, rows // (pool * WRK_THREADS))
    stamp = f"{harness.utc_stamp()}-{number}"
    ours, kinto = sides["datastorage"].base, sides["kinto"].base
    kinto_path = f"{KINTO_RECORDS}/"
    return [
        {
            "datastorage": Run(
                "create one record", "datastorage", "create.lua", ours + RECORDS,
                (f"{stamp}-ds",), (f"{stamp}-ds-warmup",),
            ),
            "kinto": Run(
                "create one record", "kinto", "create.lua", kinto + KINTO_RECORDS,
                (f"{stamp}-k", KINTO_RECORDS, "data"), (f"{stamp}-k-warmup", KINTO_RECORDS, "data"),
            ),
        },
        {
            "datastorage": Run(
                "get by key", "datastorage", "get_by_key.lua", ours + RECORDS, ("1", str(rows))
            ),
            "kinto": Run(
                "get by key", "kinto", "get_by_key.lua", kinto + KINTO_RECORDS,
                ("1", str(rows), kinto_path, ""),
            ),
        },
        {
            "datastorage": Run(
                "GET+PATCH with If-Match (pairs)", "datastorage", "update.lua", ours + RECORDS,
                ("1", str(stride), str(pool), str(WRK_THREADS)),
            ),
            "kinto": Run(
                "GET+PATCH with If-Match (pairs)", "kinto", "update.lua", kinto + KINTO_RECORDS,
                ("1", str(stride), str(pool), str(WRK_THREADS), kinto_path, "data", ""),
            ),
        },
        {
            "datastorage": Run(
                "filtered list page, 20 records", "datastorage", "static_get.lua", ours + FILTERED
            ),
            "kinto": Run(
                "filtered list page, 20 records", "kinto", "static_get.lua", kinto + KINTO_FILTERED
            ),
        },
        {
            side: Run(
                "ceiling: trivial WSGI app", side, "static_get.lua",
                f"http://127.0.0.1:{ceilings[side]}/",
            )
            for side in ("datastorage", "kinto")
        },
    ]  # fmt: skip


def run_one(
    run: Run, side: Side, logs: dict[str, harness.RequestLog], token: str, config: Config
) -> dict[str, Any]:
    ceiling = run.operation.startswith("ceiling")
    auth = side.authorization
    if config.warmup:
        step(f"wrk: {side.name}, {run.operation} (warm-up, {config.warmup} s)")
        warmup = run.warmup_args if run.warmup_args is not None else run.args
        harness.run_wrk(
            run.script, run.url, list(warmup), duration=config.warmup, token=token,
            authorization=auth,
        )  # fmt: skip
    step(f"wrk: {side.name}, {run.operation}")
    log = logs.get(side.name)
    if log is not None:
        log.skip()
    server_cpu = harness.tree_cpu_seconds(side.pid)
    pg_cpu = harness.tree_cpu_seconds(side.postmaster) if side.postmaster else 0.0
    result = harness.run_wrk(
        run.script, run.url, list(run.args), duration=config.duration, token=token,
        authorization=auth,
    )  # fmt: skip
    server_cpu = harness.tree_cpu_seconds(side.pid) - server_cpu
    pg_cpu = (harness.tree_cpu_seconds(side.postmaster) if side.postmaster else 0.0) - pg_cpu
    figures = asdict(result)
    if result.requests and not ceiling:
        figures["server_cpu_ms_per_request"] = round(server_cpu * 1000 / result.requests, 4)
        figures["postgresql_cpu_ms_per_request"] = round(pg_cpu * 1000 / result.requests, 4)
    if "updates" in result.extra:
        # One update is a GET+PATCH pair; wrk's own rate counts both requests.
        figures["requests_per_s"] = round(result.extra["updates"] / result.extra["duration_s"], 2)
        figures["wrk_requests_per_s"] = result.requests_per_s
    if log is not None and not ceiling:
        figures["server"] = log.read()
    return {"operation": run.operation, "side": side.name, **figures}


# --- report -------------------------------------------------------------------------------


def summary(runs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    """Per (operation, side): req/s, p50, p99 and CPU per request, means over the rounds;
    non-2xx summed."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault((run["operation"], run["side"]), []).append(run)
    table = {}
    for key, group in grouped.items():
        mean = {
            name: sum(run.get(name, 0.0) for run in group) / len(group)
            for name in (
                "requests_per_s", "p50_ms", "p99_ms",
                "server_cpu_ms_per_request", "postgresql_cpu_ms_per_request",
            )
        }  # fmt: skip
        mean["non_2xx"] = sum(run["non_2xx"] for run in group)
        mean["rounds"] = len(group)
        table[key] = mean
    return table


def print_report(report: dict[str, Any], path: Path) -> None:
    s = report["settings"]
    table = summary(report["runs"])
    operations = list(dict.fromkeys(op for op, side in table if side == "kinto"))
    print()
    print(
        f"datastorage and Kinto {report['started_at']}: {s['rows']:,} dogs each; datastorage: "
        f"granian {s['datastorage']['web_concurrency']} workers x "
        f"{s['datastorage']['blocking_threads']} threads; Kinto: {s['kinto']['server']}, "
        f"{', '.join(s['kinto']['packages'])}; wrk {s['wrk']}, {s['duration']} s after "
        f"{s['warmup']} s of warm-up; mean of {s['rounds']} rounds alternating who goes first; "
        f"{report['machine']['nproc']} CPUs"
    )
    head = f"{'operation':<32} {'':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
    print(f"{head} {'cpu ms/req':>10} {'pg ms/req':>9} {'ratio':>6}")
    for operation in operations:
        ours, theirs = table[(operation, "datastorage")], table[(operation, "kinto")]
        ratio = ours["requests_per_s"] / theirs["requests_per_s"]
        for side, row in (("Kinto", theirs), ("ours", ours)):
            print(
                _row(
                    operation if side == "Kinto" else "",
                    side,
                    row,
                    ratio if side == "ours" else None,
                )
            )
    rich, plain = (
        table.get(("filtered page, rich", "datastorage")),
        table.get(("filtered page, plain", "datastorage")),
    )
    if rich and plain:
        print(_row("filtered page, rich", "ours", rich, None))
        print(_row("filtered page, plain", "ours", plain, None))
        cpu = {
            name: row["server_cpu_ms_per_request"] + row["postgresql_cpu_ms_per_request"]
            for name, row in (("rich", rich), ("plain", plain))
        }
        print(
            "a page of the richest records costs "
            f"{plain['requests_per_s'] / rich['requests_per_s']:.3f}x a page of the plainest by "
            f"req/s, {rich['server_cpu_ms_per_request'] / plain['server_cpu_ms_per_request']:.3f}x "
            f"by the server's CPU per request, {cpu['rich'] / cpu['plain']:.3f}x by the server's "
            "and PostgreSQL's"
        )
    for run in report["runs"]:
        extra = run["extra"]
        if "updates" in extra and (extra.get("stale") or extra.get("failed")):
            print(
                f"{run['side']} update run: 412s {extra['stale']:.0f}, other failures "
                f"{extra['failed']:.0f}"
            )
        if any(run["socket_errors"].values()):
            print(f"{run['side']}, {run['operation']}: socket errors {run['socket_errors']}")
        failures = run.get("server", {}).get("failures")
        if failures:
            print(f"{run['side']}, {run['operation']}: the server answered {failures}")
    print(f"figures: {path}; server logs: {harness.RESULTS / report['started_at']}/")


def _row(operation: str, side: str, row: dict[str, float], ratio: float | None) -> str:
    cpu = row["server_cpu_ms_per_request"]
    pg = row["postgresql_cpu_ms_per_request"]
    return (
        f"{operation:<32} {side:>6} {row['requests_per_s']:>8,.0f} {row['p50_ms']:>8.2f} "
        f"{row['p99_ms']:>8.2f} {row['non_2xx']:>8.0f} "
        f"{(f'{cpu:.3f}' if cpu else '-'):>10} {(f'{pg:.3f}' if pg else '-'):>9} "
        f"{(f'{ratio:.2f}x' if ratio else ''):>6}"
    )


if __name__ == "__main__":
    sys.exit(main())
