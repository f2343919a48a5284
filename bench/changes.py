"""`make bench`, upserts and deletes by filter (issue 18), in the same run as the bulk load.

- bulk upsert: arrays of BULK_SIZE (10,000) dogs, half of them stored by the seed (with
  another age: updated), half new, matched by the unique index (name, born), as many
  requests in flight as the seed had; rows/s set against the seed's bulk create rows/s.
- delete by filter: DELETE_ROWS (100,000) of a `prune` storage's 150,000 records matched
  by one filter: more than MAX_BULK_ITEMS, so a job the worker runs; timed from the
  request until the job says done.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import threading
import time
from typing import Any

import harness
import orjson
from harness import RECORDS, Client, step

UPSERT = {"Prefer": "resolution=merge-duplicates"}
PRUNE = "/api/v1/storage/prune/"
DELETE_ROWS = 100_000
KEPT_ROWS = 50_000


def bulk_upsert(port: int, token: str, *, seeded: int, size: int, requests: int, parallel: int):
    """Upsert `requests` arrays of `size`: half stored dogs with a new age, half new dogs."""
    half = size // 2
    step(f"generate {requests} upsert bodies of {size:,} ({half:,} stored, {half:,} new)")
    stored_batches = max(1, seeded // size)
    bodies = []
    for k in range(requests):
        stored = harness.dog_rows(k % stored_batches, size, half)
        fresh = harness.dog_rows(stored_batches + 1 + k, size, half)
        items = [dict(zip(harness.COLUMNS, row, strict=True)) for row in stored + fresh]
        for item in items[:half]:
            item["age"] = (item["age"] + 1) % 16
        bodies.append(orjson.dumps(items, default=str))
    local = threading.local()
    path = f"{RECORDS}?on_conflict=name,born"

    def post(body: bytes) -> None:
        if not hasattr(local, "client"):
            local.client = Client(port, token)
        reply = local.client.request("POST", path, body, prefer=UPSERT["Prefer"])
        if reply.status != 200 or not reply.body.startswith(b"[{"):
            raise RuntimeError(f"bulk upsert: got {reply.status}: {reply.body[:600]!r}")

    step(f"bulk upsert through the API, {parallel} requests in parallel")
    with harness.timed() as took:
        pool = concurrent.futures.ThreadPoolExecutor(parallel)
        with pool:
            for future in concurrent.futures.as_completed([pool.submit(post, b) for b in bodies]):
                future.result()
    seconds = took[0]
    rows = requests * size
    step(f"bulk upsert: {rows / seconds:,.0f} rows/s ({seconds:.1f} s)")
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1)}


def delete_by_filter(port: int, token: str) -> dict[str, Any]:
    """Seed `prune`, then time DELETE ?old=true until its job is done."""
    client = Client(port, token)
    definition = {
        "name": "prune",
        "primary_key": {"name": "n", "type": "integer"},
        "fields": [
            {"name": "old", "type": "boolean", "required": True},
            {"name": "note", "type": "text", "nullable": True},
        ],
        "indexes": [{"fields": ["old"]}],
    }
    harness.expect(client.request("POST", "/api/v1/factory/storage/", definition), 201, "prune")
    total = DELETE_ROWS + KEPT_ROWS
    step(f"seed prune with {total:,} records ({DELETE_ROWS:,} to delete)")
    for start in range(0, total, 10_000):
        items = [
            {"n": n, "old": n % 3 != 0, "note": f"note {n}"}
            for n in range(start, min(total, start + 10_000))
        ]
        harness.expect(client.request("POST", PRUNE, items), 201, "seed prune")
    matched = sum(1 for n in range(total) if n % 3 != 0)
    step(f"delete by filter: {matched:,} records, a job the worker runs")
    started = time.perf_counter()
    job = harness.expect(client.request("DELETE", f"{PRUNE}?old=true"), 202, "delete by filter")
    location = f"/api/v1/jobs/{job['id']}/"
    while job["status"] not in ("done", "failed"):
        time.sleep(0.02)
        job = harness.expect(client.request("GET", location), 200, "job")
    seconds = time.perf_counter() - started
    if job["status"] != "done" or job["processed"] != matched:
        raise RuntimeError(f"delete by filter: the job ended {job}")
    step(f"delete by filter: {matched / seconds:,.0f} rows/s ({seconds:.2f} s)")
    return {
        "rows": matched,
        "seconds": round(seconds, 3),
        "rows_per_s": round(matched / seconds, 1),
        "job_started_after_s": _lag(job),
    }


def _lag(job: dict[str, Any]) -> float | None:
    """How long the job waited for the worker (its poll), from its own timestamps."""

    if not job.get("started_at"):
        return None
    created = datetime.datetime.fromisoformat(job["created_at"].replace("Z", "+00:00"))
    started = datetime.datetime.fromisoformat(job["started_at"].replace("Z", "+00:00"))
    return round((started - created).total_seconds(), 3)
