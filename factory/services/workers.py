"""The worker's heartbeat: each worker process says, every few seconds, that it is alive.

Rows are keyed by the worker's id (one per process), so any number of workers on any
number of machines beat side by side; `factory.selectors.worker_status` reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db.models.functions import Now

from audit.services import audit_prune
from factory.models import WorkerHeartbeat
from factory.services.feeds import PRUNE_BATCH, tombstones_prune, waiters_prune

# Rows of workers gone this long are removed by the workers still running: enough to see
# that a worker stopped, not a table that grows with every restart.
FORGET_AFTER = timedelta(days=1)
# Audit entries deleted per transaction: short ones, however much expired at once.
AUDIT_PRUNE_BATCH = 1000


def worker_heartbeat(*, worker_id: str, host: str, pid: int) -> None:
    """Record that worker `worker_id` is alive now (by the database's clock)."""
    if not WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen=Now()):
        WorkerHeartbeat.objects.create(
            worker_id=worker_id, host=host, pid=pid, started_at=Now(), last_seen=Now()
        )


def worker_heartbeats_prune() -> int:
    """Forget workers not seen for FORGET_AFTER; returns how many rows went."""
    deleted, _ = WorkerHeartbeat.objects.filter(last_seen__lt=Now() - FORGET_AFTER).delete()
    return deleted


def worker_housekeeping() -> dict[str, int]:
    """What the worker deletes now and then: workers long gone, audit entries past
    AUDIT_RETENTION_DAYS and the change feed's tombstones past FEED_TOMBSTONE_DAYS, in
    batches. Returns how many rows of each went."""
    pruned = {
        "heartbeats": worker_heartbeats_prune(),
        "feed_waiters": waiters_prune(),
        "audit": _in_batches(audit_prune, AUDIT_PRUNE_BATCH),
        "tombstones": _in_batches(tombstones_prune, PRUNE_BATCH),
    }
    return pruned


def _in_batches(prune: Callable[..., int], batch: int) -> int:
    total = 0
    while True:
        deleted = prune(limit=batch)
        total += deleted
        if deleted < batch:
            return total
