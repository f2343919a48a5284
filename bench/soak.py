"""Soak: a long mixed load with a schema change half-way, then a consistency check.

    python scripts/with_postgres.py -- python bench/soak.py

Runs against the PostgreSQL in DATABASE_URL (with_postgres.py starts a throwaway one):
migrates, issues an admin token (`manage.py issue_token soak --admin`), serves the API as
production does (granian, `python -m datastorage.serve`; `manage.py run_worker`), creates the
storage `soak`, and lets SOAK_CLIENTS clients create (single, bulk, some with an
Idempotency-Key and a retry), read, update (If-Match) and list records. Half-way, a new
version adds a field and an index (a real online migration, applied by the worker).

Each client owns its records, so it knows every record's expected value and version.
Reports: answers by status (5xx counted apart), the RSS of each granian worker after
warm-up and at the end, and the final check (every record present once, at its version
and value; nothing else in the table). Writes the figures to bench/results/.

    SOAK_SECONDS (600)  SOAK_CLIENTS (8)  WEB_CONCURRENCY (3)
    SOAK_WARMUP (60 s, at most a fifth of the run)
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import harness
import orjson
import psycopg
from harness import Client, Processes, step

STORAGE = "soak"
RECORDS = f"/api/v1/storage/{STORAGE}/"
V1 = {
    "name": STORAGE,
    "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "n", "type": "integer", "required": True},
        {"name": "note", "type": "text", "nullable": True},
    ],
}
# Half-way: a field with a default (a column add) and an index (a concurrent build).
V2 = {
    **V1,
    "fields": [
        *V1["fields"],
        {"name": "colour", "type": "text", "nullable": False, "default": "grey"},
    ],
    "indexes": [{"fields": ["n"]}],
}
COLOURS = ("black", "brown", "white")
# Operation mix, by weight.
MIX = {"create": 25, "bulk": 4, "read": 30, "update": 23, "list": 18}
BULK = 20


class SoakClient(threading.Thread):
    """One client: keep-alive connection, its own records, every answer counted."""

    def __init__(self, number: int, port: int, token: str, shared: Shared) -> None:
        super().__init__(daemon=True)
        self.number, self.shared = number, shared
        self.http = Client(port, token, timeout=60)
        self.rng = random.Random(number)
        self.records: dict[int, dict[str, Any]] = {}  # key -> expected record
        self.statuses: Counter[int] = Counter()
        self.unexpected: list[str] = []
        self.replays = 0
        self.sequence = 0

    def run(self) -> None:
        operations = list(MIX)
        weights = list(MIX.values())
        while not self.shared.stop.is_set():
            operation = self.rng.choices(operations, weights)[0]
            if operation in ("read", "update") and not self.records:
                operation = "create"
            try:
                getattr(self, operation)()
            except OSError as exc:  # no answer at all: counted like a 5xx
                self.statuses[599] += 1
                self.unexpected.append(f"{operation}: {exc!r}")

    def _call(self, method: str, path: str, body: Any = None, **headers: str) -> harness.Reply:
        reply = self.http.request(method, path, body, **headers)
        self.statuses[reply.status] += 1
        return reply

    def _expect(self, reply: harness.Reply, status: int, what: str) -> Any:
        if reply.status != status:
            self.unexpected.append(f"{what}: {reply.status} {reply.body[:300]!r}")
            return None
        return reply.json()

    def _new_record(self) -> dict[str, Any]:
        self.sequence += 1
        record: dict[str, Any] = {
            "name": f"c{self.number}-{self.sequence}",
            "n": self.rng.randint(0, 10_000),
        }
        if self.shared.v2_ready.is_set() and self.rng.random() < 0.5:
            record["colour"] = self.rng.choice(COLOURS)
        return record

    def _keep(self, sent: dict[str, Any], stored: dict[str, Any]) -> None:
        expected = {"colour": "grey", **sent} if self.shared.v2_ready.is_set() else dict(sent)
        self.records[stored["id"]] = {**expected, "_version": 1}

    def create(self) -> None:
        record = self._new_record()
        if self.rng.random() < 0.3:
            key = {"idempotency_key": f"soak-{self.number}-{self.sequence}"}
            stored = self._expect(self._call("POST", RECORDS, record, **key), 201, "create")
            if stored is not None and self.rng.random() < 0.2:
                # A client that lost the answer sends the same request again.
                again = self._call("POST", RECORDS, record, **key)
                same = again.status == 201 and again.json() == stored
                if not same or again.headers.get("idempotent-replayed") != "true":
                    self.unexpected.append(f"replay: {again.status} {again.body[:300]!r}")
                self.replays += 1
        else:
            stored = self._expect(self._call("POST", RECORDS, record), 201, "create")
        if stored is not None:
            self._keep(record, stored)

    def bulk(self) -> None:
        records = [self._new_record() for _ in range(BULK)]
        stored = self._expect(self._call("POST", RECORDS, records), 201, "bulk")
        for sent, item in zip(records, stored or [], strict=False):
            self._keep(sent, item)

    def read(self) -> None:
        key = self.rng.choice(list(self.records))
        found = self._expect(self._call("GET", f"{RECORDS}{key}/"), 200, "read")
        expected = self.records[key]
        if found is not None and any(found.get(k) != v for k, v in expected.items()):
            self.unexpected.append(f"read {key}: {found} != {expected}")

    def update(self) -> None:
        key = self.rng.choice(list(self.records))
        expected = self.records[key]
        change = {"n": self.rng.randint(0, 10_000), "note": f"u{self.sequence}"}
        if_match = f'"{expected["_version"]}"'
        updated = self._expect(
            self._call("PATCH", f"{RECORDS}{key}/", change, if_match=if_match), 200, "update"
        )
        if updated is not None:
            expected.update(change, _version=expected["_version"] + 1)

    def list(self) -> None:
        low = self.rng.randint(0, 9_000)
        path = f"{RECORDS}?n__gte={low}&n__lt={low + 500}&limit=20&ordering=-n"
        self._expect(self._call("GET", path), 200, "list")


class Shared:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.v2_ready = threading.Event()


def worker_rss(master: int) -> dict[int, int]:
    """VmRSS (KiB) of each granian worker: the main process's children, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != master:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                found[int(stat.parent.name)] = int(line.split()[1])
    return found


def schema_change(http: Client) -> float:
    """PUT version 2, wait for the worker to make it ready; returns how long it took."""
    started = time.monotonic()
    reply = http.request("PUT", f"/api/v1/factory/storage/{STORAGE}/", V2, if_match='"1"')
    harness.expect(reply, 202, "schema change")
    while True:
        status = harness.expect(
            http.request("GET", f"/api/v1/factory/ready_status/{STORAGE}/"), 200, "ready_status"
        )
        if status["version"] == 2 and status["status"] in ("ready", "failed"):
            if status["status"] != "ready":
                raise RuntimeError(f"the schema change failed: {status}")
            return time.monotonic() - started
        time.sleep(0.2)


def consistency(url: str, clients: list[SoakClient]) -> dict[str, Any]:
    """Every record each client was answered for, once, at its version and value; and
    nothing else in the table."""
    expected = {key: record for c in clients for key, record in c.records.items()}
    with psycopg.connect(url) as conn:
        rows = conn.execute(f'SELECT id, name, n, note, colour, _version FROM "ds_{STORAGE}"')
        stored = {row[0]: row[1:] for row in rows}
    wrong = []
    for key, record in expected.items():
        row = stored.get(key)
        want = (
            record["name"],
            record["n"],
            record.get("note"),
            record.get("colour", "grey"),
            record["_version"],
        )
        if row != want:
            wrong.append({"id": key, "stored": row, "expected": want})
    return {
        "records_expected": len(expected),
        "records_stored": len(stored),
        "missing_or_wrong": len(wrong),
        "unexpected_rows": len(set(stored) - set(expected)),
        "examples": wrong[:5],
        "ok": not wrong and set(stored) == set(expected),
    }


def main() -> int:
    harness.stop_on_sigterm()
    url = harness.database_url()
    seconds = harness.env_int("SOAK_SECONDS", 600)
    clients_n = harness.env_int("SOAK_CLIENTS", 8)
    warmup = min(harness.env_int("SOAK_WARMUP", 60), seconds // 5)
    workers = harness.env_int("WEB_CONCURRENCY", 3)
    stamp = harness.utc_stamp()
    # WARNING: no line per request; a 10-minute run would log millions.
    env = {**os.environ, "WEB_CONCURRENCY": str(workers), "LOG_LEVEL": "WARNING"}
    step(f"soak: {seconds} s, {clients_n} clients, {workers} granian workers")
    harness.manage("migrate", "--no-input", env=env)
    token = harness.manage("issue_token", "soak", "--admin", env=env).strip().splitlines()[-1]
    with Processes(harness.RESULTS / f"{stamp}-soak") as processes:
        port = processes.server("granian", env)
        master = processes.running[-1][1].pid
        processes.worker(env)
        admin = Client(port, token)
        harness.expect(admin.request("POST", "/api/v1/factory/storage/", V1), 201, "storage")
        shared = Shared()
        clients = [SoakClient(n, port, token, shared) for n in range(clients_n)]
        cpu = harness.CpuMeter()
        cpu_start = cpu.sample()
        started = time.monotonic()
        for client in clients:
            client.start()
        timeline = []
        rss_warm: dict[int, int] = {}
        change_took = None
        while (elapsed := time.monotonic() - started) < seconds:
            time.sleep(min(10, max(seconds - elapsed, 0.1)))
            elapsed = time.monotonic() - started
            rss = worker_rss(master)
            answers = sum(sum(c.statuses.values()) for c in clients)
            timeline.append({"t": round(elapsed), "answers": answers, "rss_kib": rss})
            step(f"{elapsed:5.0f} s  {answers} answers  worker RSS MiB {_mib(rss)}")
            if not rss_warm and elapsed >= warmup:
                rss_warm = rss
            if change_took is None and elapsed >= seconds / 2:
                change_took = schema_change(admin)
                shared.v2_ready.set()
                step(f"schema change ready after {change_took:.1f} s")
        shared.stop.set()
        for client in clients:
            client.join(timeout=120)
        rss_end = worker_rss(master)
        others_cpu = cpu.others_share(cpu_start)
        duration = time.monotonic() - started
        check = consistency(url, clients)
    return report(
        stamp=stamp,
        seconds=duration,
        clients=clients,
        rss_warm=rss_warm,
        rss_end=rss_end,
        check=check,
        change_took=change_took,
        others_cpu=others_cpu,
        timeline=timeline,
        config={"seconds": seconds, "clients": clients_n, "workers": workers, "warmup": warmup},
    )


def _mib(rss: dict[int, int]) -> str:
    return " ".join(f"{kib / 1024:.1f}" for _, kib in sorted(rss.items())) or "-"


def report(*, stamp: str, clients: list[SoakClient], rss_warm, rss_end, check, **rest) -> int:
    statuses: Counter[int] = Counter()
    for client in clients:
        statuses.update(client.statuses)
    unexpected = [line for c in clients for line in c.unexpected]
    errors_5xx = sum(count for status, count in statuses.items() if status >= 500)
    growth = {
        pid: round((rss_end[pid] - rss_warm[pid]) / rss_warm[pid] * 100, 1)
        for pid in rss_warm
        if pid in rss_end
    }
    total = sum(statuses.values())
    print()
    print(f"requests answered   {total}  ({total / rest['seconds']:.0f}/s)")
    print(f"by status           {dict(sorted(statuses.items()))}")
    print(f"5xx (or no answer)  {errors_5xx}")
    print(f"other surprises     {len(unexpected)}  {unexpected[:3]}")
    print(f"idempotent replays  {sum(c.replays for c in clients)} checked")
    print(f"schema change       ready after {rest['change_took']:.1f} s under load")
    print(f"worker RSS warm MiB {_mib(rss_warm)}")
    print(f"worker RSS end  MiB {_mib(rss_end)}")
    replaced = sorted(set(rss_end) - set(rss_warm))
    print(f"RSS growth %        {growth}  (workers replaced since warm-up: {replaced})")
    print(f"consistency         {'OK' if check['ok'] else 'FAILED'} {check}")
    print(f"CPU used by others  {rest['others_cpu']} %")
    result = {
        "answers": total,
        "statuses": dict(statuses),
        "errors_5xx": errors_5xx,
        "unexpected": unexpected[:50],
        "rss_warm_kib": rss_warm,
        "rss_end_kib": rss_end,
        "rss_growth_percent": growth,
        "consistency": check,
        "machine": harness.machine(),
        **rest,
    }
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    out = harness.RESULTS / f"{stamp}-soak.json"
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    print(f"figures written to {out.relative_to(harness.ROOT)}")
    healthy = errors_5xx == 0 and not unexpected and check["ok"]
    return 0 if healthy and all(g < 10 for g in growth.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
