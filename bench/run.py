"""`make bench`: the records API under load, next to an HTTP ceiling and raw COPY.

Runs against the PostgreSQL in DATABASE_URL (`make bench` starts a throwaway cluster):
migrates, issues an admin token, serves the API as production does (granian through
`python -m datastorage.serve`) and a trivial WSGI app (bench/ceiling.py) with the same
settings; creates the `dogs` storage, seeds BENCH_ROWS records through the bulk endpoint,
COPYs as many into an identical table, then drives each operation with wrk. Prints one
table and writes every figure to bench/results/<UTC timestamp>.json.

    BENCH_ROWS (1000000)  BENCH_DURATION (10 s per operation)  BENCH_WARMUP (2 s before each)
    WEB_CONCURRENCY (the server's default, 2)
    BENCH_BULK_PARALLEL (4 bulk requests in flight)
    BENCH_METRICS_ROUNDS (2 rounds of create and get by key, metrics on and off)

Create and get by key run against the API and against a second API server with
METRICS_ENABLED=0, alternately, in rounds: the report prints what the metrics cost.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
import threading
from dataclasses import asdict, dataclass, replace
from typing import Any

import changes
import harness
import orjson
import psycopg
from harness import RECORDS, Client, Processes, step

# The name of an operation run against the server with METRICS_ENABLED=0.
METRICS_OFF = "metrics off: "
BULK_SIZE = 10_000
UPDATE_POOL = 5_000  # records per wrk thread in the update run
WRK_THREADS = 2


@dataclass(frozen=True)
class Config:
    rows: int
    duration: int
    warmup: int
    workers: int
    parallel: int
    metrics_rounds: int

    @classmethod
    def from_env(cls) -> Config:
        config = cls(
            rows=harness.env_int("BENCH_ROWS", 1_000_000),
            duration=harness.env_int("BENCH_DURATION", 10),
            warmup=harness.env_int("BENCH_WARMUP", 2),
            workers=harness.web_concurrency(),
            parallel=harness.env_int("BENCH_BULK_PARALLEL", 4),
            metrics_rounds=max(1, harness.env_int("BENCH_METRICS_ROUNDS", 2)),
        )
        if config.rows < 2 * UPDATE_POOL * WRK_THREADS:
            sys.exit(f"BENCH_ROWS must be at least {2 * UPDATE_POOL * WRK_THREADS}")
        return config


def main() -> int:
    harness.require_wrk()
    harness.stop_on_sigterm()
    url = harness.database_url()
    config = Config.from_env()
    stamp = harness.utc_stamp()
    env = {**os.environ, "WEB_CONCURRENCY": str(config.workers), "BENCH_STAMP": stamp}
    report: dict[str, Any] = {
        "started_at": stamp,
        "machine": harness.machine(),
        "settings": {**asdict(config), "bulk_size": BULK_SIZE, **_server_settings(env)},
    }
    try:
        with Processes(harness.RESULTS / stamp) as processes:
            report.update(_measure(processes, env, url, config))
    except KeyboardInterrupt:
        print("\ninterrupted; every process the benchmark started was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    path = harness.RESULTS / f"{stamp}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print_report(report, path)
    return 0


def _server_settings(env: dict[str, str]) -> dict[str, Any]:
    return {
        **harness.server_settings(env),
        "wrk": f"{WRK_THREADS} threads, 16 connections, keep-alive",
    }


def _measure(processes: Processes, env: dict, url: str, config: Config) -> dict[str, Any]:
    step("migrate and issue an admin token")
    token = harness.prepare_database(env)
    step(f"start granian ({config.workers} workers): the API and the ceiling app")
    api = processes.server(
        "api",
        {**env, "PROMETHEUS_MULTIPROC_DIR": str(harness.RESULTS / env["BENCH_STAMP"] / "metrics")},
    )
    api_off = processes.server("api-off", {**env, "METRICS_ENABLED": "0"})
    ceiling = processes.server("ceiling", env, "bench/ceiling.py:application")
    step("start the worker (delete by filter jobs)")
    worker_argv = [sys.executable, "manage.py", "run_worker", "--interval", "0.1"]
    processes.start("worker", worker_argv, env)
    client = Client(api, token)
    harness.create_dogs(client)
    bulk = seed_through_api(api, token, config)
    copy = copy_raw(url, config.rows)
    table = inspect_table(url, config.rows)
    # After the table's figures: the upsert adds dogs (the operations read seeded ones).
    upsert = changes.bulk_upsert(
        api,
        token,
        seeded=config.rows,
        size=BULK_SIZE,
        requests=harness.env_int("BENCH_UPSERT_REQUESTS", 10),
        parallel=config.parallel,
    )
    deleted = changes.delete_by_filter(api, token)
    logs = {name: harness.RequestLog(processes.log_path(name)) for name in ("api", "api-off")}
    pids = {name: proc.pid for name, proc in processes.running}
    operations = [
        run_operation(op, client, logs, pids, token, config)
        for op in plan(api, ceiling, table, api_off=api_off, rounds=config.metrics_rounds)
    ]
    return {
        "postgresql": table.pop("server_version"),
        "table": table,
        "bulk": bulk,
        "copy": copy,
        "bulk_to_copy": round(bulk["rows_per_s"] / copy["rows_per_s"], 4),
        "bulk_upsert": upsert,
        "upsert_to_bulk": round(upsert["rows_per_s"] / bulk["rows_per_s"], 4),
        "delete_by_filter": deleted,
        "operations": operations,
    }


# --- loading ------------------------------------------------------------------------------


def seed_through_api(port: int, token: str, config: Config) -> dict[str, Any]:
    """POST the seed in arrays of BULK_SIZE records, `parallel` requests at a time."""
    batches = harness.seed_batches(config.rows, BULK_SIZE)
    step(f"generate {config.rows:,} records ({len(batches)} bulk bodies)")
    bodies = [harness.bulk_body(harness.dog_rows(b, BULK_SIZE, n)) for b, n in batches]
    local = threading.local()

    def post(body: bytes) -> None:
        if not hasattr(local, "client"):
            local.client = Client(port, token)
        reply = local.client.request("POST", RECORDS, body)
        # Status and shape only: decoding 10,000 records would spend CPU the service
        # shares with this client inside the timed window (wrk decodes nothing either);
        # the table's row count is checked after the load.
        if reply.status != 201 or not reply.body.startswith(b"[{"):
            raise RuntimeError(f"bulk create: got {reply.status}: {reply.body[:600]!r}")

    step(f"seed through the bulk endpoint, {config.parallel} requests in parallel")
    meter = harness.CpuMeter()
    before = meter.sample()
    with harness.timed() as took:
        pool = concurrent.futures.ThreadPoolExecutor(config.parallel)
        with pool:
            for future in concurrent.futures.as_completed([pool.submit(post, b) for b in bodies]):
                future.result()
    seconds = took[0]
    step(f"bulk load: {config.rows / seconds:,.0f} rows/s ({seconds:.1f} s)")
    others = meter.others_share(before)
    return _rate(
        config.rows,
        seconds,
        requests=len(bodies),
        parallel=config.parallel,
        others_cpu_percent=others,
    )


def copy_raw(url: str, rows: int) -> dict[str, Any]:
    """The same rows in one COPY (text format) into a table LIKE ds_dogs INCLUDING ALL:
    same columns, defaults, constraints and indexes."""
    step(f"raw COPY of {rows:,} rows through psycopg")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE ds_dogs_copy (LIKE ds_dogs INCLUDING ALL)")
        conn.commit()
        seconds, others = harness.copy_seed(conn, "ds_dogs_copy", rows, BULK_SIZE)
        copied = conn.execute("SELECT count(*) FROM ds_dogs_copy").fetchone()[0]
        conn.execute("DROP TABLE ds_dogs_copy")
    if copied != rows:
        raise RuntimeError(f"COPY wrote {copied} rows, not {rows}")
    step(f"raw COPY: {rows / seconds:,.0f} rows/s ({seconds:.1f} s)")
    return _rate(rows, seconds, statements=1, others_cpu_percent=others)


def _rate(rows: int, seconds: float, **extra: Any) -> dict[str, Any]:
    figures = {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1)}
    return figures | extra


def inspect_table(url: str, rows: int) -> dict[str, Any]:
    """VACUUM ANALYZE the seeded table (as autovacuum would, soon) and CHECKPOINT (when
    allowed), then read what the wrk scripts need: the key range and the key at depth
    rows/2."""
    step("VACUUM ANALYZE ds_dogs, CHECKPOINT")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) ds_dogs")
        # The first run measured right after the load otherwise pays for its aftermath
        # (dirty buffers written out): p99 of creates near 1 s instead of ~0.2 s.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
        lo, hi, count = conn.execute("SELECT min(id), max(id), count(*) FROM ds_dogs").fetchone()
        depth = rows // 2
        deep_key = conn.execute(
            "SELECT id FROM ds_dogs ORDER BY id OFFSET %s LIMIT 1", (depth - 1,)
        ).fetchone()[0]
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'ds_dogs' ORDER BY indexname"
        ).fetchall()
        version = conn.execute("SHOW server_version").fetchone()[0]
    if count != rows:
        raise RuntimeError(f"ds_dogs holds {count} rows after the bulk load, not {rows}")
    return {
        "rows": count,
        "lo": lo,
        "hi": hi,
        "depth": depth,
        "deep_key": deep_key,
        "indexes": [row[0] for row in indexes],
        "server_version": version,
    }


# --- operations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    name: str
    script: str
    url: str
    args: tuple[str, ...] = ()
    check: str | None = None  # a path to GET once, expecting 200, before the run
    api: bool = True  # False for the ceiling app, which writes no request log
    first_key: int | None = None  # the key the checked page must start with
    warmup_args: tuple[str, ...] | None = None  # for the warm-up run, when not `args`
    server: str = "api"  # whose request log to read: "api", or "api-off" (metrics off)


def metrics_rounds(base: str, base_off: str, table: dict[str, Any], rounds: int) -> list[Operation]:
    """Create and get by key against the API with metrics on and with them off, in rounds
    that alternate which goes first: a machine whose load drifts during the run then
    weighs on both sides alike."""
    operations = []
    keys = (str(table["lo"]), str(table["hi"]))
    for number in range(rounds):
        stamp = f"{harness.utc_stamp()}-{number}"  # create.lua: names of their own per run
        pairs = [
            (
                Operation(
                    "create one record",
                    "create.lua",
                    url + RECORDS,
                    (f"{stamp}-{server}",),
                    warmup_args=(f"{stamp}-{server}-warmup",),
                    server=server,
                ),
                Operation(
                    "get by key (random over the table)",
                    "get_by_key.lua",
                    url + RECORDS,
                    keys,
                    check=f"{RECORDS}{table['hi']}/",
                    server=server,
                ),
            )
            for url, server in ((base, "api"), (base_off, "api-off"))
        ]
        if number % 2:
            pairs.reverse()
        for on_or_off in zip(*pairs, strict=True):
            operations.extend(on_or_off)
    return [
        replace(op, name=METRICS_OFF + op.name) if op.server == "api-off" else op
        for op in operations
    ]


def plan(
    api: int, ceiling: int, table: dict[str, Any], *, api_off: int, rounds: int = 1
) -> list[Operation]:
    base = f"http://127.0.0.1:{api}"
    base_off = f"http://127.0.0.1:{api_off}"
    cursor = harness.deep_cursor(table["deep_key"])
    first_page = f"{RECORDS}?limit=20"
    filtered = f"{RECORDS}?breed=beagle&limit=20"
    deep = f"{RECORDS}?limit=20&cursor={cursor}"
    stride = (table["hi"] - table["lo"]) // (UPDATE_POOL * WRK_THREADS)
    return [
        *metrics_rounds(base, base_off, table, rounds),
        Operation(
            "update with If-Match (GET+PATCH)",
            "update.lua",
            base + RECORDS,
            (str(table["lo"]), str(stride), str(UPDATE_POOL), str(WRK_THREADS)),
        ),
        Operation("filtered list, first page", "static_get.lua", base + filtered, check=filtered),
        Operation("keyset page, first (depth 0)", "static_get.lua", base + first_page),
        Operation(
            f"keyset page at depth {table['depth']:,}",
            "static_get.lua",
            base + deep,
            check=deep,
            first_key=table["deep_key"] + 1,
        ),
        Operation(
            "ceiling: trivial WSGI app", "static_get.lua", f"http://127.0.0.1:{ceiling}/", api=False
        ),
    ]


def run_operation(
    op: Operation,
    client: Client,
    logs: dict[str, harness.RequestLog],
    pids: dict[str, int],
    token: str,
    config: Config,
) -> dict[str, Any]:
    log = logs[op.server]
    duration = config.duration
    if op.check:
        check_page(op, harness.expect(client.request("GET", op.check), 200, op.name))
    if config.warmup:
        # Not measured: the first requests after the previous step meet a cold server
        # (connections to open, caches to fill); the figures are of the steady state.
        step(f"wrk: {op.name} (warm-up, {config.warmup} s)")
        warmup = op.warmup_args if op.warmup_args is not None else op.args
        harness.run_wrk(op.script, op.url, list(warmup), duration=config.warmup, token=token)
    step(f"wrk: {op.name}")
    log.skip()
    meter = harness.CpuMeter()
    before = meter.sample()
    server_cpu = harness.tree_cpu_seconds(pids[op.server])
    result = harness.run_wrk(op.script, op.url, list(op.args), duration=duration, token=token)
    server_cpu = harness.tree_cpu_seconds(pids[op.server]) - server_cpu
    others = meter.others_share(before)
    figures = asdict(result)
    if op.api and result.requests:
        figures["server_cpu_ms_per_request"] = round(server_cpu * 1000 / result.requests, 4)
    if "updates" in result.extra:
        # One update is a GET+PATCH pair; wrk's own rate counts both requests.
        figures["requests_per_s"] = round(result.extra["updates"] / result.extra["duration_s"], 2)
        figures["wrk_requests_per_s"] = result.requests_per_s
    figures["server"] = log.read() if op.api else {}
    return {"operation": op.name, "others_cpu_percent": others, **figures}


def check_page(op: Operation, page: Any) -> None:
    if not isinstance(page, dict) or "results" not in page:
        return
    keys = [record["id"] for record in page["results"]]
    if len(keys) != 20 or (op.first_key is not None and keys[0] != op.first_key):
        raise RuntimeError(
            f"{op.name}: the page holds keys {keys[:3]}..., not 20 from {op.first_key}"
        )


# --- report -------------------------------------------------------------------------------


def print_report(report: dict[str, Any], path: Any) -> None:
    s, t = report["settings"], report["table"]
    print()
    print(
        f"datastorage {report['started_at']}: {t['rows']:,} dogs; granian {s['web_concurrency']}"
        f" workers x {s['blocking_threads']} threads; wrk {WRK_THREADS} threads, 16 "
        f"connections, {s['duration']} s each after {s.get('warmup', 0)} s of warm-up; "
        f"PostgreSQL {report['postgresql']}; "
        f"{report['machine']['nproc']} CPUs"
    )
    print(f"{'operation':<38} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'non-2xx':>8}")
    for op in report["operations"]:
        print(
            f"{op['operation']:<38} {op['requests_per_s']:>9,.0f} {op['p50_ms']:>9.2f} "
            f"{op['p99_ms']:>9.2f} {op['non_2xx']:>8}"
        )
    bulk, copy = report["bulk"], report["copy"]
    print()
    print(
        f"bulk load through the API: {bulk['rows_per_s']:,.0f} rows/s ({bulk['rows']:,} rows "
        f"in {bulk['seconds']:.1f} s; {BULK_SIZE:,} per request, {bulk['parallel']} in parallel)"
    )
    print(
        f"raw COPY through psycopg:  {copy['rows_per_s']:,.0f} rows/s ({copy['rows']:,} rows "
        f"in {copy['seconds']:.1f} s; one COPY into ds_dogs LIKE ... INCLUDING ALL)"
    )
    print(f"bulk load / raw COPY:      {report['bulk_to_copy']:.3f}")
    upsert, deleted = report["bulk_upsert"], report["delete_by_filter"]
    print(
        f"bulk upsert through the API: {upsert['rows_per_s']:,.0f} rows/s ({upsert['rows']:,} "
        f"items, half stored and changed, half new), {report['upsert_to_bulk']:.3f} of bulk load"
    )
    print(
        f"delete by filter (a job):    {deleted['rows_per_s']:,.0f} rows/s ({deleted['rows']:,} "
        f"rows in {deleted['seconds']:.2f} s from the request to done; the worker picked it up "
        f"after {deleted['job_started_after_s']} s)"
    )
    print_notes(report)
    print(f"figures: {path}; server logs: {harness.RESULTS / report['started_at']}/")


def print_notes(report: dict[str, Any]) -> None:
    shares = [
        (label, report[key]["others_cpu_percent"])
        for key, label in (("bulk", "bulk load"), ("copy", "raw COPY"))
    ]
    shares += [(op["operation"], op["others_cpu_percent"]) for op in report["operations"]]
    if all(share is not None for _, share in shares):
        print(
            "CPU used by other processes on this machine meanwhile, % of all CPUs: "
            + "; ".join(f"{name} {share:.0f}" for name, share in shares)
        )
    print_metrics_cost(report["operations"])
    for op in report["operations"]:
        extra = op["extra"]
        if "updates" in extra:
            print(
                f"update: req/s counts GET+PATCH pairs answered 200 ({extra['updates']:.0f}; "
                f"412s: {extra['stale']:.0f}); p50/p99 are per request (GET or PATCH); a "
                f"whole pair took p50 {extra['pair_p50_ms']:.2f} ms, p99 "
                f"{extra['pair_p99_ms']:.2f} ms"
            )
        if any(op["socket_errors"].values()):
            print(f"{op['operation']}: socket errors {op['socket_errors']}")
        failures = op.get("server", {}).get("failures")
        if failures:
            print(f"{op['operation']}: the server answered {failures}")
        for error in op.get("server", {}).get("errors", []):
            print(f"{op['operation']}: server error logged: {error}")


def print_metrics_cost(operations: list[dict[str, Any]]) -> None:
    """What counting costs: mean req/s and p50 over the rounds, metrics on against off."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for op in operations:
        runs.setdefault(op["operation"], []).append(op)
    for name, offs in runs.items():
        ons = runs.get(name.removeprefix(METRICS_OFF))
        if not name.startswith(METRICS_OFF) or not ons:
            continue
        on_rate, off_rate = _mean(ons, "requests_per_s"), _mean(offs, "requests_per_s")
        on_cpu = _mean(ons, "server_cpu_ms_per_request")
        off_cpu = _mean(offs, "server_cpu_ms_per_request")
        # Server CPU per request is the steadier figure on a shared machine; req/s follows
        # whatever else runs.
        print(
            f"metrics cost, {ons[0]['operation']}: {100 * (on_cpu / off_cpu - 1):+.1f} % server "
            f"CPU per request ({on_cpu:.3f} vs {off_cpu:.3f} ms), "
            f"{100 * (1 - on_rate / off_rate):+.1f} % req/s ({on_rate:,.0f} on, "
            f"{off_rate:,.0f} off); p50 {_mean(ons, 'p50_ms'):.2f} vs "
            f"{_mean(offs, 'p50_ms'):.2f} ms; mean of {len(ons)} rounds each"
        )


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return sum(run[key] for run in runs) / len(runs)


if __name__ == "__main__":
    sys.exit(main())
