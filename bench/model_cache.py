"""Memory of the per-process model cache: what one cached storage costs a worker, and
that the cache holds a worker's memory flat however many storages there are.

    python scripts/with_postgres.py -- python bench/model_cache.py

Creates CACHE_STORAGES storages shaped like the benchmarks' `dogs` (ten fields, two
indexes) through the API, then, against one granian worker:
1. with a cache larger than the storages, reads each storage once and reports the
   worker's RSS growth per cached storage;
2. with MODEL_CACHE_SIZE=50, reads every storage CACHE_ROUNDS times round-robin (every
   read a cache miss) and reports the RSS after each round: it should stay flat.

    CACHE_STORAGES (5000)  CACHE_ROUNDS (3)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import harness
from harness import Client, Processes, step

SMALL_CACHE = 50


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def only_worker(master: int) -> int:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                return int(stat.parent.name)
        except (OSError, ValueError):
            continue
    raise RuntimeError("granian has no worker")


def read_all(client: Client, names: list[str]) -> list[float]:
    """One page of one record from each storage; the latency of each, in ms."""
    took = []
    for name in names:
        started = time.perf_counter()
        harness.expect(client.request("GET", f"/api/v1/storage/{name}/?limit=1"), 200, name)
        took.append((time.perf_counter() - started) * 1000)
    return took


def serve(processes: Processes, env: dict[str, str], cache: int) -> tuple[int, int]:
    """One granian worker with this cache size: (port, worker pid)."""
    name = f"granian-cache-{cache}"
    port = processes.server(name, {**env, "MODEL_CACHE_SIZE": str(cache)})
    master = next(proc.pid for label, proc in processes.running if label == name)
    return port, only_worker(master)


def main() -> int:
    harness.stop_on_sigterm()
    harness.database_url()
    count = harness.env_int("CACHE_STORAGES", 5000)
    rounds = harness.env_int("CACHE_ROUNDS", 3)
    env = {**os.environ, "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING"}
    token = harness.prepare_database(env)
    names = [f"m{n:05d}" for n in range(count)]
    with Processes(harness.RESULTS / f"{harness.utc_stamp()}-model-cache") as processes:
        port, _ = serve(processes, env, count + 10)
        client = Client(port, token)
        step(f"creating {count} storages")
        for name in names:
            body = {**harness.DOGS, "name": name}
            harness.expect(client.request("POST", "/api/v1/factory/storage/", body), 201, name)
        client.close()
        processes.stop_all()

        port, worker = serve(processes, env, count + 10)
        client = Client(port, token)
        read_all(client, names[:1])
        before = rss_kib(worker)
        read_all(client, names)
        after = rss_kib(worker)
        per_storage = (after - before) / count
        step(f"cache of {count}: RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB, "
             f"{per_storage:.1f} KiB per cached storage")  # fmt: skip
        hits = read_all(client, names[-SMALL_CACHE:] * 4)
        client.close()
        processes.stop_all()

        port, worker = serve(processes, env, SMALL_CACHE)
        client = Client(port, token)
        read_all(client, names[:1])
        rss = [rss_kib(worker)]
        misses: list[float] = []
        for number in range(rounds):
            misses += read_all(client, names)
            rss.append(rss_kib(worker))
            step(f"cache of {SMALL_CACHE}, round {number + 1}: RSS {rss[-1] / 1024:.1f} MiB")
        client.close()

    print()
    print(f"storages                      {count}")
    print(f"RSS per cached storage        {per_storage:.1f} KiB")
    print(f"RSS, cache of {SMALL_CACHE}, per round  {[round(r / 1024, 1) for r in rss]} MiB")
    print(f"read latency p50, cached      {statistics.median(hits):.2f} ms")
    print(f"read latency p50, every miss  {statistics.median(misses):.2f} ms")
    growth = (rss[-1] - rss[1]) / rss[1] * 100
    print(f"RSS growth after round 1      {growth:.1f} %")
    return 0 if growth < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
