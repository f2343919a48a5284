"""`make bench-feed` (and the end of `make bench`): what the change feed costs writers, how
fast it delivers, and that a follower under many writers ends with exactly the table.

Against the PostgreSQL in DATABASE_URL: serves the API as production does (granian), then
1. writers: `dogs` (with its feed) and `dogs_plain`, the same table with the feed taken off
   (its triggers, its `_txid` column and position index dropped: a table as before the
   feed), single creates with wrk and bulk creates of BULK_SIZE rows, in rounds that
   alternate which goes first; server CPU per request and rows/s for each, and the ratio;
2. creates again while long-polls wait, on an idle storage and on `dogs` itself (which
   turns NOTIFY on for its writes): what a waiting consumer costs writers;
3. delivery: one consumer reads the whole feed of FEED_ROWS records in pages of 1,000,
   next to reading the same records as list pages of 1,000 (the ceiling of a page);
4. consistency: WRITERS threads (creates, bulks, PATCHes, DELETEs) plus transactions that
   commit late (psycopg, straight into the table) for CONSISTENCY_SECONDS while a consumer
   follows in pages of 50; at the end, its copy against the table (keys and versions).

    BENCH_DURATION (10 s per wrk run)  BENCH_WARMUP (2)  BENCH_FEED_ROUNDS (2)
    BENCH_FEED_ROWS (100000)  BENCH_FEED_WRITERS (16)  BENCH_FEED_SECONDS (20)
"""

from __future__ import annotations

import copy
import os
import random
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import harness
import orjson
import psycopg
from harness import Client, Processes, step

BULK_SIZE = 10_000
PAGE = 1000
FEED_STORAGE, PLAIN_STORAGE, IDLE_STORAGE = "dogs", "dogs_plain", "idle"


def main() -> int:
    harness.require_wrk()
    harness.stop_on_sigterm()
    url = harness.database_url()
    stamp = harness.utc_stamp()
    settings = {
        "duration": harness.env_int("BENCH_DURATION", 10),
        "warmup": harness.env_int("BENCH_WARMUP", 2),
        "rounds": harness.env_int("BENCH_FEED_ROUNDS", 2),
        "feed_rows": harness.env_int("BENCH_FEED_ROWS", 100_000),
        "writer_threads": harness.env_int("BENCH_FEED_WRITERS", 16),
        "seconds": harness.env_int("BENCH_FEED_SECONDS", 20),
    }
    env = {**os.environ, "WEB_CONCURRENCY": str(harness.web_concurrency()), "BENCH_STAMP": stamp}
    report: dict[str, Any] = {"started_at": stamp, "machine": harness.machine(), **settings}
    try:
        with Processes(harness.RESULTS / f"feed-{stamp}") as processes:
            token = harness.prepare_database(env)
            port = processes.server("api", env)
            pid = dict(processes.running)["api"].pid
            client = Client(port, token)
            _storages(client, url)
            report["writers"] = _writer_cost(port, pid, token, settings)
            report["waiting"] = _waiting_cost(port, pid, token, settings)
            report["delivery"] = _delivery(client, settings["feed_rows"])
            report["consistency"] = _consistency(port, token, url, settings)
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    path = harness.RESULTS / f"feed-{stamp}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    _print(report, path)
    return 0 if report["consistency"]["equal"] else 1


def _storages(client: Client, url: str) -> None:
    step("create dogs, dogs_plain (the feed taken off) and idle")
    for name in (FEED_STORAGE, PLAIN_STORAGE, IDLE_STORAGE):
        harness.expect(
            client.request("POST", "/api/v1/factory/storage/", {**harness.DOGS, "name": name}),
            201,
            f"create {name}",
        )
    with psycopg.connect(url, autocommit=True) as conn:
        triggers = conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'ds_dogs_plain'::regclass "
            "AND NOT tgisinternal"
        ).fetchall()
        for (name,) in triggers:
            conn.execute(f'DROP TRIGGER "{name}" ON ds_dogs_plain')
        conn.execute("ALTER TABLE ds_dogs_plain DROP COLUMN _txid")  # its index goes with it


def _records(name: str) -> str:
    return f"/api/v1/storage/{name}/"


def _wrk_create(port: int, pid: int, token: str, name: str, tag: str, settings: dict) -> dict:
    target = f"http://127.0.0.1:{port}{_records(name)}"
    if settings["warmup"]:
        harness.run_wrk(
            "create.lua",
            target,
            [f"{tag}-w", _records(name)],
            duration=settings["warmup"],
            token=token,
        )
    cpu = harness.tree_cpu_seconds(pid)
    result = harness.run_wrk(
        "create.lua", target, [tag, _records(name)], duration=settings["duration"], token=token
    )
    cpu = harness.tree_cpu_seconds(pid) - cpu
    return {
        "requests_per_s": result.requests_per_s,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "non_2xx": result.non_2xx,
        "server_cpu_ms": round(cpu * 1000 / max(result.requests, 1), 4),
    }


def _bulk(port: int, token: str, name: str, batches: int, first: int) -> float:
    """Rows/s of `batches` bulk creates of BULK_SIZE rows, two requests in flight."""
    bodies = [
        harness.bulk_body(harness.dog_rows(first + b, BULK_SIZE, BULK_SIZE)) for b in range(batches)
    ]
    local = threading.local()
    pending = list(bodies)
    lock = threading.Lock()

    def post() -> None:
        local.client = Client(port, token)
        while True:
            with lock:
                if not pending:
                    return
                body = pending.pop()
            reply = local.client.request("POST", _records(name), body)
            if reply.status != 201:
                raise RuntimeError(f"bulk into {name}: {reply.status} {reply.body[:300]!r}")

    started = time.monotonic()
    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return batches * BULK_SIZE / (time.monotonic() - started)


def _writer_cost(port: int, pid: int, token: str, settings: dict) -> dict:
    runs: dict[str, list] = {"create": [], "create_plain": [], "bulk": [], "bulk_plain": []}
    for number in range(settings["rounds"]):
        order = [FEED_STORAGE, PLAIN_STORAGE][:: 1 if number % 2 == 0 else -1]
        for name in order:
            suffix = "" if name == FEED_STORAGE else "_plain"
            step(f"round {number + 1}: creates into {name}")
            tag = f"{settings['duration']}-{number}-{name}-{time.time_ns()}"
            runs["create" + suffix].append(_wrk_create(port, pid, token, name, tag, settings))
            step(f"round {number + 1}: bulk creates into {name}")
            runs["bulk" + suffix].append(_bulk(port, token, name, 6, 1000 + number * 10))
    return runs


def _waiting_cost(port: int, pid: int, token: str, settings: dict) -> dict:
    """Creates into dogs with no long-poll, with two waiting on an idle storage, and with
    two waiting on dogs itself (its writes then NOTIFY), in the order A B C C B A: the
    table grows with every run, and the two halves weigh that drift alike."""
    cases = (("none", None), ("idle", IDLE_STORAGE), ("same", FEED_STORAGE))
    figures: dict[str, list[dict]] = {label: [] for label, _ in cases}
    for label, storage in (*cases, *reversed(cases)):
        stop = threading.Event()
        threads = []
        if storage is not None:
            for _ in range(2):
                poller = threading.Thread(target=_long_poll, args=(port, token, storage, stop))
                poller.start()
                threads.append(poller)
            time.sleep(1)
        step(f"creates into dogs, long-polls waiting: {label}")
        tag = f"wait-{label}-{time.time_ns()}"
        figures[label].append(_wrk_create(port, pid, token, FEED_STORAGE, tag, settings))
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
    return {
        label: {
            key: round(_mean([run[key] for run in runs]), 4)
            for key in ("requests_per_s", "server_cpu_ms", "p50_ms", "p99_ms")
        }
        for label, runs in figures.items()
    }


def _long_poll(port: int, token: str, storage: str, stop: threading.Event) -> None:
    client = Client(port, token, timeout=60)
    cursor_url = harness.expect(
        client.request("GET", f"{_records(storage)}changes/?limit=1000"), 200, "feed"
    )["next"]
    while not stop.is_set():
        path = _path(cursor_url) + "&wait=5"
        reply = client.request("GET", path)
        if reply.status == 200:
            cursor_url = reply.json()["next"]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _delivery(client: Client, rows: int) -> dict:
    step(f"seed {rows:,} records into idle for the delivery run")
    for batch in range(-(-rows // BULK_SIZE)):
        count = min(BULK_SIZE, rows - batch * BULK_SIZE)
        body = harness.bulk_body(harness.dog_rows(5000 + batch, BULK_SIZE, count))
        harness.expect(client.request("POST", _records(IDLE_STORAGE), body), 201, "seed idle")
    rates = {}
    for label, first, key in (
        ("feed", f"{_records(IDLE_STORAGE)}changes/?limit={PAGE}", "next"),
        ("list", f"{_records(IDLE_STORAGE)}?limit={PAGE}", "next"),
    ):
        step(f"read all {rows:,} as {label} pages of {PAGE}")
        started, seen, path = time.monotonic(), 0, first
        while path:
            page = harness.expect(client.request("GET", path), 200, label)
            seen += len(page["results"])
            if not page["results"] or (seen >= rows and label == "feed"):
                break
            path = _path(page[key]) if page[key] else None
        seconds = time.monotonic() - started
        rates[label] = {
            "records": seen,
            "seconds": round(seconds, 3),
            "per_s": round(seen / seconds),
        }
    return rates


def _consistency(port: int, token: str, url: str, settings: dict) -> dict:
    """Many writers and late commits while one consumer follows; then copy == table?"""
    harness.expect(
        Client(port, token).request(
            "POST", "/api/v1/factory/storage/",
            {"name": "pets", "fields": [{"name": "name", "type": "text"},
                                        {"name": "age", "type": "integer", "default": 0}]},
        ),
        201, "create pets",
    )  # fmt: skip
    stop = threading.Event()
    failures: list[BaseException] = []
    threads = [
        threading.Thread(target=_guard(_writer, failures), args=(port, token, stop, n))
        for n in range(settings["writer_threads"])
    ]
    threads += [
        threading.Thread(target=_guard(_late_commits, failures), args=(url, stop, n))
        for n in range(2)
    ]
    step(f"{settings['writer_threads']} writers and 2 late committers for {settings['seconds']} s")
    for thread in threads:
        thread.start()
    consumer = Client(port, token)
    copy_: dict[int, int] = {}
    entries = 0
    path = f"{_records('pets')}changes/?limit=50"
    deadline = time.monotonic() + settings["seconds"]
    while time.monotonic() < deadline:
        path, count = _follow(consumer, path, copy_, deadline)
        entries += count
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    path, count = _follow(consumer, path, copy_, float("inf"))
    entries += count
    with psycopg.connect(url) as conn:
        table = dict(conn.execute("SELECT id, _version FROM ds_pets").fetchall())
    missing = len(set(table) - set(copy_))
    kept = len(set(copy_) - set(table))
    stale = sum(1 for key in set(table) & set(copy_) if table[key] != copy_[key])
    return {
        "records": len(table),
        "entries_followed": entries,
        "missing": missing,
        "deleted_but_kept": kept,
        "stale_versions": stale,
        "writer_failures": [repr(f) for f in failures],
        "equal": copy_ == table and not failures,
    }


def _guard(target: Any, failures: list) -> Any:
    def run(*args: Any) -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported
            failures.append(exc)

    return run


def _follow(client: Client, path: str, copy_: dict, until: float) -> tuple[str, int]:
    seen = 0
    while time.monotonic() < until:
        page = harness.expect(client.request("GET", path), 200, "follow")
        for entry in page["results"]:
            if entry.get("_deleted"):
                copy_.pop(entry["id"], None)
            else:
                copy_[entry["id"]] = entry["_version"]
        seen += len(page["results"])
        path = _path(page["next"])
        if not page["results"]:
            break
    return path, seen


def _writer(port: int, token: str, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    client = Client(port, token)
    mine: dict[int, int] = {}
    pets = _records("pets")
    while not stop.is_set():
        roll = rng.random()
        if roll < 0.4 or not mine:
            many = rng.random() < 0.3
            body: Any = {"name": f"w{seed}", "age": rng.randrange(50)}
            if many:
                body = [copy.copy(body) for _ in range(rng.randrange(2, 50))]
            created = harness.expect(client.request("POST", pets, body), 201, "create")
            for record in created if many else [created]:
                mine[record["id"]] = record["_version"]
        elif roll < 0.75:
            key = rng.choice(list(mine))
            reply = client.request(
                "PATCH", f"{pets}{key}/", {"age": rng.randrange(50)}, if_match=f'"{mine[key]}"'
            )
            if reply.status == 200:
                mine[key] = reply.json()["_version"]
        else:
            key = rng.choice(list(mine))
            client.request("DELETE", f"{pets}{key}/")
            del mine[key]


def _late_commits(url: str, stop: threading.Event, seed: int) -> None:
    """Transactions that write early and commit late, straight into the table."""
    rng = random.Random(seed)
    with psycopg.connect(url) as conn:
        while not stop.is_set():
            with conn.transaction():
                conn.execute(
                    "INSERT INTO ds_pets (name, age, _created_at, _updated_at) "
                    "SELECT 'late', 1, now(), now() FROM generate_series(1, 5)"
                )
                time.sleep(rng.uniform(0.05, 0.5))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _print(report: dict, path: Any) -> None:
    writers = report["writers"]
    create = _mean([r["requests_per_s"] for r in writers["create"]])
    plain = _mean([r["requests_per_s"] for r in writers["create_plain"]])
    cpu = _mean([r["server_cpu_ms"] for r in writers["create"]])
    cpu_plain = _mean([r["server_cpu_ms"] for r in writers["create_plain"]])
    bulk, bulk_plain = _mean(writers["bulk"]), _mean(writers["bulk_plain"])
    print()
    print(f"change feed {report['started_at']} ({report['machine']['nproc']} CPUs)")
    print(
        f"create one, with the feed / without: {create:,.0f} / {plain:,.0f} req/s = "
        f"{create / plain:.3f}; server CPU {cpu:.3f} / {cpu_plain:.3f} ms per request "
        f"({100 * (cpu / cpu_plain - 1):+.1f} %); mean of {report['rounds']} rounds each"
    )
    print(
        f"bulk create ({BULK_SIZE:,} per request), with / without: {bulk:,.0f} / "
        f"{bulk_plain:,.0f} rows/s = {bulk / bulk_plain:.3f}"
    )
    waiting = report["waiting"]
    for label, where in (("idle", "an idle storage"), ("same", "dogs itself")):
        ratio = waiting[label]["requests_per_s"] / waiting["none"]["requests_per_s"]
        cpu_ratio = waiting[label]["server_cpu_ms"] / waiting["none"]["server_cpu_ms"]
        print(
            f"creates with 2 long-polls waiting on {where}: "
            f"{waiting[label]['requests_per_s']:,.0f} req/s vs "
            f"{waiting['none']['requests_per_s']:,.0f} "
            f"with none = {ratio:.3f}; server CPU x {cpu_ratio:.3f}"
        )
    feed, listed = report["delivery"]["feed"], report["delivery"]["list"]
    print(
        f"delivery to one consumer, pages of {PAGE}: {feed['per_s']:,} changes/s "
        f"({feed['records']:,} in {feed['seconds']} s); the same records as list pages: "
        f"{listed['per_s']:,} records/s; feed / list = {feed['per_s'] / listed['per_s']:.3f}"
    )
    c = report["consistency"]
    print(
        f"consistency, {report['writer_threads']} writers + 2 late committers for "
        f"{report['seconds']} s: "
        f"{c['records']:,} records, {c['entries_followed']:,} entries followed; missing "
        f"{c['missing']}, deleted but kept {c['deleted_but_kept']}, stale {c['stale_versions']}: "
        f"{'copy == table' if c['equal'] else 'COPY DIFFERS FROM THE TABLE'}"
    )
    print(f"figures: {path}")


if __name__ == "__main__":
    sys.exit(main())
