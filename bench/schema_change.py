"""`make bench-schema`: a schema change on a live storage, with a writer running through it.

Runs against the PostgreSQL in DATABASE_URL (`make bench-schema` starts a throwaway
cluster): serves the API as production does (granian, `python -m datastorage.serve`) plus
the worker (`manage.py run_worker`), creates the `dogs` storage and fills it with BENCH_ROWS
records (raw COPY: the load is set-up here, `make bench` measures it). One writer thread
then posts single records, one after the other, for BENCH_DURATION seconds; the storage
gains a field with a default and a new index (PUT, then ready_status polled until ready);
the writer goes on BENCH_DURATION seconds more. Prints how long writers were blocked, the
time to ready and the writer's throughput before, during and after the change, checks that
nothing was lost, and writes every figure to bench/results/<UTC timestamp>-schema.json.

    BENCH_ROWS (1000000)  BENCH_DURATION (10 s before and after)
    WEB_CONCURRENCY (the server's default, 2)
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import harness
import orjson
import psycopg
from harness import RECORDS, Client, Processes, step

STORAGE_URL = f"/api/v1/factory/storage/{harness.STORAGE}/"
READY_URL = f"/api/v1/factory/ready_status/{harness.STORAGE}/"
NEW_FIELD = {"name": "color", "type": "text", "default": "unknown"}
NEW_INDEX = {"fields": ["registered_at"]}  # a btree over 1M distinct values: a real build
POLL_SECONDS = 0.05
READY_TIMEOUT = 3600


def main() -> int:
    harness.stop_on_sigterm()
    url = harness.database_url()
    rows = harness.env_int("BENCH_ROWS", 1_000_000)
    phase = harness.env_int("BENCH_DURATION", 10)
    env = {**os.environ, "WEB_CONCURRENCY": str(harness.web_concurrency())}
    stamp = harness.utc_stamp()
    report: dict[str, Any] = {
        "started_at": stamp,
        "machine": harness.machine(),
        "settings": {"rows": rows, "phase_s": phase, "web_concurrency": env["WEB_CONCURRENCY"]},
        "change": {"add_field": NEW_FIELD, "add_index": NEW_INDEX},
    }
    try:
        with Processes(harness.RESULTS / f"{stamp}-schema") as processes:
            report.update(_measure(processes, env, url, rows, phase))
    except KeyboardInterrupt:
        print("\ninterrupted; every process the benchmark started was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    path = harness.RESULTS / f"{stamp}-schema.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print_report(report, path)
    return 0 if all(report["checks"].values()) else 1


def _measure(processes: Processes, env: dict, url: str, rows: int, phase: int) -> dict[str, Any]:
    step("migrate and issue an admin token")
    token = harness.prepare_database(env)
    step(f"start granian ({env['WEB_CONCURRENCY']} workers) and the worker")
    api = processes.server("api", env)
    processes.worker(env)
    client = Client(api, token)
    harness.create_dogs(client)
    before = seed(url, rows)
    writer = Writer(api, token)
    step(f"writer on: {phase} s before the change")
    meter = harness.CpuMeter()
    cpu_before = meter.sample()
    writer.start()
    try:
        time.sleep(phase)
        change = apply_change(client)
        step(f"ready after {change['ready'] - change['sent']:.2f} s; {phase} s more of writes")
        time.sleep(phase)
    finally:
        writer.halt.set()
        writer.join()
    change["stopped"] = writer.samples[-1][1] if writer.samples else time.monotonic()
    return {
        "postgresql": before.pop("server_version"),
        "others_cpu_percent": meter.others_share(cpu_before),
        "timeline": timeline(change),
        "phases": phases(writer.samples, change),
        "checks": verify(url, client, rows, writer, before),
    }


def seed(url: str, rows: int) -> dict[str, Any]:
    step(f"seed {rows:,} records (raw COPY into ds_dogs), then VACUUM ANALYZE, CHECKPOINT")
    with psycopg.connect(url) as conn:
        harness.copy_seed(conn, "ds_dogs", rows, 10_000)
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) ds_dogs")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")  # the writer's "before" is not the load's aftermath
        version = conn.execute("SHOW server_version").fetchone()[0]
        return {"relfilenode": _relfilenode(conn), "server_version": version}


def _relfilenode(conn: Any) -> int:
    return conn.execute("SELECT relfilenode FROM pg_class WHERE relname = 'ds_dogs'").fetchone()[0]


class Writer(threading.Thread):
    """Posts single records back to back; keeps (sent, answered, status) for each."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(name="writer", daemon=True)
        self.client = Client(port, token, timeout=120)
        self.samples: list[tuple[float, float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.halt.is_set():
            number += 1
            sent = time.monotonic()
            try:
                status = self.client.request("POST", RECORDS, harness.one_dog(f"w-{number}")).status
            except OSError:
                status = 0  # no answer at all
                self.client.close()
            self.samples.append((sent, time.monotonic(), status))


def apply_change(client: Client) -> dict[str, Any]:
    """PUT the new definition, then poll ready_status until it says ready."""
    current = client.request("GET", STORAGE_URL)
    harness.expect(current, 200, "read the storage")
    definition = {
        **harness.DOGS,
        "fields": [*harness.DOGS["fields"], NEW_FIELD],
        "indexes": [*harness.DOGS["indexes"], NEW_INDEX],
    }
    step("PUT the new definition (a field with a default, an index)")
    sent = time.monotonic()
    reply = client.request("PUT", STORAGE_URL, definition, if_match=current.headers["etag"])
    answered = time.monotonic()
    body = harness.expect(reply, 202, "PUT the new definition")
    transitions: list[tuple[float, str]] = []
    while True:
        status = harness.expect(client.request("GET", READY_URL), 200, "ready_status")
        now = time.monotonic()
        if not transitions or transitions[-1][1] != status["status"]:
            transitions.append((now, status["status"]))
        if status["ready"]:
            break
        if status["status"] == "failed":
            raise RuntimeError(f"the migration failed: {status['detail']}")
        if now - sent > READY_TIMEOUT:
            raise RuntimeError(f"not ready after {READY_TIMEOUT} s: {status}")
        time.sleep(POLL_SECONDS)
    return {
        "sent": sent,
        "answered": answered,
        "ready": now,
        "version": body["version"],
        "changes": [change["op"] for change in body["changes"]],
        "transitions": transitions,
    }


def timeline(change: dict[str, Any]) -> dict[str, Any]:
    sent = change["sent"]
    return {
        "version": change["version"],
        "changes": change["changes"],
        "put_ms": round((change["answered"] - sent) * 1000, 1),
        "ready_s": round(change["ready"] - sent, 3),
        "seen": [(status, round(at - sent, 3)) for at, status in change["transitions"]],
    }


# --- the writer's account -----------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    name: str
    start: float
    end: float


def phases(samples: list[tuple[float, float, int]], change: dict[str, Any]) -> dict[str, Any]:
    first = samples[0][0] if samples else change["sent"]
    windows = [
        Window("before", first, change["sent"]),
        Window("during", change["sent"], change["ready"]),
        Window("after", change["ready"], change["stopped"]),
    ]
    return {w.name: _phase(samples, w) for w in windows}


def _phase(samples: list[tuple[float, float, int]], window: Window) -> dict[str, Any]:
    """Writes that overlap the window. The longest gap is between successive successful
    writes (their answers) where the gap overlaps the window: while writers are blocked,
    no write succeeds."""
    overlapping = [s for s in samples if s[0] <= window.end and s[1] >= window.start]
    answered_ok = [s[1] for s in samples if s[2] == 201]
    gaps = [
        later - earlier
        for earlier, later in itertools.pairwise(answered_ok)
        if later >= window.start and earlier <= window.end
    ]
    inside_ok = sum(1 for s in samples if s[2] == 201 and window.start <= s[1] <= window.end)
    seconds = max(window.end - window.start, 1e-9)
    statuses = Counter(str(s[2]) for s in overlapping if s[2] != 201)
    return {
        "seconds": round(seconds, 3),
        "writes_ok": inside_ok,
        "writes_per_s": round(inside_ok / seconds, 1),
        "errors": dict(statuses),
        "longest_gap_ms": round(max(gaps, default=0) * 1000, 1),
        "slowest_write_ms": round(max((s[1] - s[0] for s in overlapping), default=0) * 1000, 1),
    }


def verify(
    url: str, client: Client, rows: int, writer: Writer, before: dict[str, Any]
) -> dict[str, bool]:
    """Nothing lost or duplicated, old records read back with the default, no rewrite,
    the index built and valid, the history shows both versions."""
    written = sum(1 for s in writer.samples if s[2] == 201)
    with psycopg.connect(url, autocommit=True) as conn:
        count, without = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE color IS DISTINCT FROM 'unknown') FROM ds_dogs"
        ).fetchone()
        indexes = conn.execute(
            "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i "
            "WHERE i.indrelid = 'ds_dogs'::regclass"
        ).fetchall()
        relfilenode = _relfilenode(conn)
    first = harness.expect(client.request("GET", f"{RECORDS}1/"), 200, "read record 1")
    history = harness.expect(client.request("GET", f"{STORAGE_URL}versions/"), 200, "versions")
    return {
        "rows_equal_seed_plus_writes": count == rows + written,
        "every_record_has_the_default": without == 0,
        "old_record_reads_back_with_default": first.get("color") == "unknown",
        "table_not_rewritten": relfilenode == before["relfilenode"],
        "new_index_valid": any("(registered_at)" in sql and valid for sql, valid in indexes),
        "history_v1_v2_ready": [(v["version"], v["status"]) for v in history["results"]]
        == [(1, "ready"), (2, "ready")],
    }


# --- report -------------------------------------------------------------------------------


def print_report(report: dict[str, Any], path: Any) -> None:
    line, phase, checks = report["timeline"], report["phases"], report["checks"]
    during = phase["during"]
    print()
    print(
        f"schema change {report['started_at']}: ds_dogs with {report['settings']['rows']:,} "
        f"records; add field color (text, default 'unknown') + btree index on registered_at; "
        f"PostgreSQL {report['postgresql']}; {report['machine']['nproc']} CPUs"
    )
    seen = ", ".join(f"{status} at {at:.2f} s" for status, at in line["seen"])
    print(f"PUT answered 202 in {line['put_ms']:.0f} ms; ready_status: {seen}")
    print(f"{'writer (one client, back to back)':<36} {'before':>9} {'during':>9} {'after':>9}")
    for key, label, spec in (
        ("seconds", "seconds", ",.2f"),
        ("writes_ok", "writes answered 201", ",d"),
        ("writes_per_s", "writes/s", ",.1f"),
        ("longest_gap_ms", "longest gap between writes, ms", ",.1f"),
        ("slowest_write_ms", "slowest write, ms", ",.1f"),
    ):
        cells = "".join(f" {phase[name][key]:>9{spec}}" for name in ("before", "during", "after"))
        print(f"{label:<36}{cells}")
    errors = {name: phase[name]["errors"] for name in phase if phase[name]["errors"]}
    print(f"writer errors: {errors or 'none'}")
    if report["others_cpu_percent"] is not None:
        others = report["others_cpu_percent"]
        print(f"CPU used by other processes meanwhile: {others:.0f}% of all CPUs")
    print(
        f"API blocked for writers: {during['longest_gap_ms']:,.0f} ms (longest gap between "
        f"successful writes during the change; slowest write {during['slowest_write_ms']:,.0f} "
        f"ms); time to ready: {line['ready_s']:.2f} s"
    )
    print(
        "checks: " + ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in checks.items())
    )
    print(f"figures: {path}")


if __name__ == "__main__":
    sys.exit(main())
