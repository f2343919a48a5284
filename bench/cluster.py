"""`make bench-cluster`: a distributed storage against a plain one on one Citus cluster
(issue 21), and retention by dropping a partition against batched deletes.

Runs against the Citus coordinator in DATABASE_URL (`make bench-cluster` starts a
throwaway coordinator and two workers through `scripts/with_postgres.py --citus 2`):
migrates, issues an admin token, serves the API as production does (granian through
`python -m datastorage.serve`), and creates two storages of the same definition, the
`dogs` example without its unique index (a distributed storage can have none):
`dogs_plain`, an ordinary table on the coordinator, and `dogs_sharded`, the same with
`"distribution": {"shards": BENCH_SHARDS}`. Then, alternating which goes first
(A B B A), so that a machine whose load drifts weighs on both alike:

- bulk load: BENCH_ROWS records into each, POSTed as arrays of BULK_SIZE, in two halves
  per storage (plain, sharded, sharded, plain); records/s per storage;
- create one record per request and get by key, with wrk (bench/create.lua,
  bench/get_by_key.lua), BENCH_ROUNDS rounds; req/s, distributed over plain, against the
  issue's target of TARGET.

Then retention (bench/retention.py): the retention worker's run (retention_run, in this
process) removing a day of BENCH_RETENTION_ROWS records from a storage partitioned by day
(its partition dropped), an ordinary one (batched deletes, a tombstone per record) and a
partitioned, distributed one.

Prints a summary and writes every figure to bench/results/<UTC timestamp>-cluster.json.

    BENCH_ROWS (500000 per storage)  BENCH_DURATION (10 s per wrk run)  BENCH_WARMUP (2 s)
    BENCH_ROUNDS (2: A B B A)  BENCH_SHARDS (4)  BENCH_BULK_PARALLEL (4)
    BENCH_RETENTION_ROWS (1000000)  WEB_CONCURRENCY (the server's default, 2)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import harness
import orjson
import psycopg
import retention
from harness import Client, Processes, step

BULK_SIZE = 1_000
TARGET = 0.60  # issue 21: get by key and create, distributed over plain, at least this
SIDES = ("plain", "sharded")
OPERATIONS = ("create one record", "get by key")


@dataclass(frozen=True)
class Config:
    rows: int
    duration: int
    warmup: int
    rounds: int
    shards: int
    parallel: int
    retention_rows: int
    workers: int

    @classmethod
    def from_env(cls) -> Config:
        config = cls(
            rows=harness.env_int("BENCH_ROWS", 500_000),
            duration=harness.env_int("BENCH_DURATION", 10),
            warmup=harness.env_int("BENCH_WARMUP", 2),
            rounds=max(1, harness.env_int("BENCH_ROUNDS", 2)),
            shards=harness.env_int("BENCH_SHARDS", 4),
            parallel=harness.env_int("BENCH_BULK_PARALLEL", 4),
            retention_rows=harness.env_int("BENCH_RETENTION_ROWS", 1_000_000),
            workers=harness.web_concurrency(),
        )
        if config.rows < 2 * BULK_SIZE:
            sys.exit(f"BENCH_ROWS must be at least {2 * BULK_SIZE}")
        return config


def main() -> int:
    harness.require_wrk()
    harness.stop_on_sigterm()
    url = harness.database_url()
    config = Config.from_env()
    stamp = harness.utc_stamp()
    env = {**os.environ, "WEB_CONCURRENCY": str(config.workers)}
    report: dict[str, Any] = {
        "started_at": stamp,
        "machine": harness.machine(),
        "settings": {**asdict(config), "bulk_size": BULK_SIZE, **harness.server_settings(env)},
    }
    try:
        report["cluster"] = cluster_nodes(url)
        with Processes(harness.RESULTS / f"{stamp}-cluster") as processes:
            report.update(measure_api(processes, env, url, config))
        report["retention"] = retention.measure(url, config.retention_rows, config.shards)
    except KeyboardInterrupt:
        print("\ninterrupted; every process the benchmark started was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    path = harness.RESULTS / f"{stamp}-cluster.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2, default=str))
    print_report(report, path)
    return 0


def cluster_nodes(url: str) -> dict[str, Any]:
    """The coordinator's view of the cluster; refuses a database without Citus."""
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
        row = found.fetchone()
        if row is None:
            raise RuntimeError(
                "this database has no citus extension: run through `make bench-cluster` "
                "(scripts/with_postgres.py --citus 2)"
            )
        workers = conn.execute("SELECT count(*) FROM citus_get_active_worker_nodes()").fetchone()
        version = conn.execute("SHOW server_version").fetchone()[0]
    return {"citus": row[0], "workers": workers[0], "postgresql": version}


class ClusterCpuMeter(harness.CpuMeter):
    """harness.CpuMeter, with every node of the throwaway cluster counted as ours (the
    coordinator's and the workers' servers live side by side in with_postgres.py's
    directory): what is left is other sessions' load on the machine."""

    def __init__(self) -> None:
        super().__init__()
        found = re.search(r"-D (\S+)", os.environ.get("DATASTORAGE_TEST_PG_CTL", ""))
        self.postmasters = []
        if found is not None:
            for pidfile in Path(found.group(1)).parent.glob("*/postmaster.pid"):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    self.postmasters.append(int(pidfile.read_text().split()[0]))

    def database_seconds(self) -> float:
        """CPU time the cluster's servers (coordinator and workers) used so far."""
        return sum(harness.tree_cpu_seconds(pid) for pid in self.postmasters)

    def sample(self) -> tuple[float, int, int]:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
        ours = {os.getpid(), *harness._descendants(os.getpid())}
        for pid in self.postmasters:
            ours |= {pid, *harness._descendants(pid)}
        mine = sum(harness._cpu_ticks(pid) for pid in ours)
        return time.monotonic(), user + nice + system + irq + softirq + steal, mine


# --- the records API ------------------------------------------------------------------------


def definition(side: str, shards: int) -> dict[str, Any]:
    """The dogs example without its unique index, distributed when `side` is "sharded"."""
    body = {**harness.DOGS, "name": f"dogs_{side}"}
    body["indexes"] = [index for index in harness.DOGS["indexes"] if not index.get("unique")]
    if side == "sharded":
        body["distribution"] = {"shards": shards}
    return body


def records_path(side: str) -> str:
    return f"/api/v1/storage/dogs_{side}/"


def measure_api(processes: Processes, env: dict, url: str, config: Config) -> dict[str, Any]:
    step("migrate and issue an admin token")
    token = harness.prepare_database(env)
    step(f"start granian ({config.workers} workers)")
    api = processes.server("api", env)
    client = Client(api, token)
    for side in SIDES:
        created = client.request(
            "POST", "/api/v1/factory/storage/", definition(side, config.shards)
        )
        harness.expect(created, 201, f"create storage dogs_{side}")
    bulk = bulk_loads(api, token, config)
    tables = {side: inspect_table(url, side, config.rows) for side in SIDES}
    log = harness.RequestLog(processes.log_path("api"))
    api_pid = next(proc.pid for name, proc in processes.running if name == "api")
    runs = []
    for number in range(config.rounds):
        order = SIDES if number % 2 == 0 else tuple(reversed(SIDES))
        for side in order:
            for name in OPERATIONS:
                runs.append(
                    run_wrk(name, side, api, tables[side], token, config, log, api_pid, number)
                )
    return {"bulk": bulk, "tables": tables, "operations": runs, "ratios": ratios(bulk, runs)}


def bulk_loads(port: int, token: str, config: Config) -> dict[str, Any]:
    """Each storage gets its rows in two halves, plain, sharded, sharded, plain."""
    batches = harness.seed_batches(config.rows, BULK_SIZE)
    step(f"generate {config.rows:,} records ({len(batches)} bulk bodies of {BULK_SIZE:,})")
    bodies = [harness.bulk_body(harness.dog_rows(b, BULK_SIZE, n)) for b, n in batches]
    half = len(bodies) // 2
    parts = {side: [bodies[:half], bodies[half:]] for side in SIDES}
    figures: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for side in ("plain", "sharded", "sharded", "plain"):
        chunk = parts[side].pop(0)
        figures[side].append(post_bulks(port, token, side, chunk, config.parallel))
    totals = {}
    for side, halves in figures.items():
        rows = sum(h["rows"] for h in halves)
        seconds = sum(h["seconds"] for h in halves)
        totals[side] = {
            "rows": rows,
            "seconds": round(seconds, 3),
            "rows_per_s": round(rows / seconds, 1),
            "halves": halves,
        }
    return totals


def post_bulks(port: int, token: str, side: str, bodies: list[bytes], parallel: int) -> dict:
    local = threading.local()
    path = records_path(side)

    def post(body: bytes) -> None:
        if not hasattr(local, "client"):
            local.client = Client(port, token)
        reply = local.client.request("POST", path, body)
        if reply.status != 201 or not reply.body.startswith(b"[{"):
            raise RuntimeError(f"bulk create {side}: got {reply.status}: {reply.body[:600]!r}")

    rows = len(bodies) * BULK_SIZE
    meter = ClusterCpuMeter()
    before = meter.sample()
    with harness.timed() as took:
        pool = concurrent.futures.ThreadPoolExecutor(parallel)
        with pool:
            for future in concurrent.futures.as_completed([pool.submit(post, b) for b in bodies]):
                future.result()
    seconds = took[0]
    others = meter.others_share(before)
    step(f"bulk load dogs_{side}: {rows / seconds:,.0f} records/s ({rows:,} in {seconds:.1f} s)")
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1),
        "others_cpu_percent": others,
    }


def inspect_table(url: str, side: str, rows: int) -> dict[str, Any]:
    """VACUUM ANALYZE (Citus runs it on every shard), CHECKPOINT on the coordinator; the
    key range for get_by_key.lua; the shards' placements for the report."""
    table = f"ds_dogs_{side}"
    step(f"VACUUM ANALYZE {table}, CHECKPOINT")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {table}")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
        lo, hi, count = conn.execute(f"SELECT min(id), max(id), count(*) FROM {table}").fetchone()
        placements = conn.execute(
            "SELECT nodeport, count(*) FROM citus_shards WHERE table_name = %s::regclass "
            "GROUP BY nodeport ORDER BY nodeport",
            (table,),
        ).fetchall()
    if count != rows:
        raise RuntimeError(f"{table} holds {count} rows after the bulk load, not {rows}")
    return {
        "rows": count,
        "lo": lo,
        "hi": hi,
        "shards_by_port": {str(port): n for port, n in placements},
    }


def run_wrk(
    name: str,
    side: str,
    port: int,
    table: dict[str, Any],
    token: str,
    config: Config,
    log: harness.RequestLog,
    api_pid: int,
    number: int,
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}{records_path(side)}"
    path = records_path(side)
    if name == "get by key":
        script, args = "get_by_key.lua", [str(table["lo"]), str(table["hi"]), path]
        warmup = args
    else:
        run = f"{harness.utc_stamp()}-{number}-{side}"
        script, args, warmup = "create.lua", [run, path], [f"{run}-warmup", path]
    if config.warmup:
        step(f"wrk: {name}, dogs_{side} (warm-up, {config.warmup} s)")
        harness.run_wrk(script, url, warmup, duration=config.warmup, token=token)
    step(f"wrk: {name}, dogs_{side}, round {number + 1}")
    log.skip()
    meter = ClusterCpuMeter()
    before = meter.sample()
    cpu, database = harness.tree_cpu_seconds(api_pid), meter.database_seconds()
    result = harness.run_wrk(script, url, args, duration=config.duration, token=token)
    cpu = harness.tree_cpu_seconds(api_pid) - cpu
    database = meter.database_seconds() - database
    others = meter.others_share(before)
    figures = asdict(result)
    figures.pop("output")
    if result.requests:
        figures["server_cpu_ms_per_request"] = round(cpu * 1000 / result.requests, 4)
        # The steadier figure on a shared machine: what each request cost the servers.
        figures["database_cpu_ms_per_request"] = round(database * 1000 / result.requests, 4)
    return {
        "operation": name,
        "side": side,
        "round": number + 1,
        **figures,
        "others_cpu_percent": others,
        "server": log.read(),
    }


def ratios(bulk: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Distributed over plain: mean req/s over the rounds, and bulk records/s."""
    found = {}
    for name in OPERATIONS:
        rates = {
            side: _mean(
                [r["requests_per_s"] for r in runs if (r["operation"], r["side"]) == (name, side)]
            )
            for side in SIDES
        }
        ratio = rates["sharded"] / rates["plain"]
        found[name] = {**rates, "ratio": round(ratio, 3), "target_met": ratio >= TARGET}
        for key in ("server_cpu_ms_per_request", "database_cpu_ms_per_request"):
            found[name][key] = {
                side: _mean(
                    [r.get(key, 0) for r in runs if (r["operation"], r["side"]) == (name, side)]
                )
                for side in SIDES
            }
    ratio = bulk["sharded"]["rows_per_s"] / bulk["plain"]["rows_per_s"]
    found["bulk load"] = {side: bulk[side]["rows_per_s"] for side in SIDES} | {
        "ratio": round(ratio, 3)
    }
    return found


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4)


# --- report ---------------------------------------------------------------------------------


def print_report(report: dict[str, Any], path: Any) -> None:
    s, c = report["settings"], report["cluster"]
    print()
    print(
        f"datastorage bench-cluster {report['started_at']}: Citus {c['citus']} on PostgreSQL "
        f"{c['postgresql']}, coordinator + {c['workers']} workers on one machine of "
        f"{report['machine']['nproc']} CPUs; dogs_sharded has {s['shards']} shards; "
        f"{s['rows']:,} records per storage; granian {s['web_concurrency']} workers x "
        f"{s['blocking_threads']} threads; wrk 2 threads, 16 connections, {s['duration']} s "
        f"after {s['warmup']} s of warm-up; {s['rounds']} rounds, alternating which storage "
        "goes first (A B B A ...)"
    )
    print(
        f"{'operation':<22} {'storage':<8} {'round':>5} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'non-2xx':>8} {'app ms':>7} {'db ms':>7} {'others %':>8}"
    )
    for op in report["operations"]:
        print(
            f"{op['operation']:<22} {op['side']:<8} {op['round']:>5} {op['requests_per_s']:>9,.0f}"
            f" {op['p50_ms']:>8.2f} {op['p99_ms']:>8.2f} {op['non_2xx']:>8}"
            f" {op.get('server_cpu_ms_per_request', 0):>7.3f}"
            f" {op.get('database_cpu_ms_per_request', 0):>7.3f}"
            f" {_share(op['others_cpu_percent']):>8}"
        )
        failures = op["server"].get("failures")
        if failures:
            print(f"  the server answered {failures}; errors: {op['server'].get('errors')}")
    print()
    for name, figures in report["ratios"].items():
        unit = "records/s" if name == "bulk load" else "req/s"
        line = (
            f"{name:<18} plain {figures['plain']:>9,.0f} {unit}, distributed "
            f"{figures['sharded']:>9,.0f}: distributed/plain {figures['ratio']:.2f}"
        )
        if "target_met" in figures:
            verdict = "met" if figures["target_met"] else "NOT met"
            line += f" (target >= {TARGET:.2f}: {verdict})"
        print(line)
        if "server_cpu_ms_per_request" in figures:
            app, db = figures["server_cpu_ms_per_request"], figures["database_cpu_ms_per_request"]
            print(
                f"{'':<18} CPU per request, plain / distributed: app {app['plain']:.3f} / "
                f"{app['sharded']:.3f} ms, PostgreSQL {db['plain']:.3f} / {db['sharded']:.3f} ms"
            )
    halves = [
        f"{side} {h['rows_per_s']:,.0f}/s (others {_share(h['others_cpu_percent'])} %)"
        for side in ("plain", "sharded")
        for h in report["bulk"][side]["halves"]
    ]
    print(f"bulk load halves (run plain, sharded, sharded, plain): {'; '.join(halves)}")
    print(
        "app ms, db ms: CPU per request of the API server and of the cluster's three "
        "PostgreSQL servers; others %: CPU used meanwhile by processes outside this "
        "benchmark and its cluster, % of all CPUs"
    )
    print()
    print("\n".join(retention.report_lines(report["retention"])))
    print(f"figures: {path}; server logs: {harness.RESULTS / report['started_at']}-cluster/")


def _share(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


if __name__ == "__main__":
    sys.exit(main())
