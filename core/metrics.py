"""Prometheus metrics: what the service counts, and the one scrape that sums every process.

Every server process (granian's workers) and the task worker write their counters into
files under PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode; set by
datastorage.serve and `make serve`); a scrape of any one process reads them all. Without
that directory (tests, runserver, the management commands) the counters are this process's.

Label values are bounded: a route is the URL pattern's name (never the path), a method
one of the HTTP methods below or "other", a status its class, a storage a validated
storage name (or "_all" with METRICS_PER_STORAGE=0), the other labels fixed words.

Per-process state that lives outside these counters (the connection pool's statistics,
the model cache) is copied in by samplers (`add_sampler`) about once a second, from the
request path, and by the scraping process just before it answers. What is the same for
every process (schema changes, the worker's heartbeat) is read from the database at
scrape time by collectors the apps add (`add_collector`).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from core.database import pool_stats

logger = logging.getLogger("datastorage.metrics")

# Where the counters of this process live; read once, as prometheus-client does at import.
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SAMPLE_SECONDS = 1.0

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Records requests take a few milliseconds; schema changes seconds to hours.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_MIGRATION_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, float("inf"))

# Metrics live in a registry of their own, never prometheus-client's global one (which
# would also export this process's own CPU and memory, wrong once summed over processes).
_REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "datastorage_http_requests",
    "HTTP requests answered, by route (URL pattern name), method, status class and door "
    "(front: the records front door; django: the general path).",
    ["route", "method", "status", "door"],
    registry=_REGISTRY,
)
HTTP_DURATION = Histogram(
    "datastorage_http_request_duration_seconds",
    "Time from receiving a request to its answer, by route and door.",
    ["route", "door"],
    buckets=_LATENCY_BUCKETS,
    registry=_REGISTRY,
)
RECORDS_WRITTEN = Counter(
    "datastorage_records_written",
    "Records written, by storage and operation (create, bulk, update, delete, ingest).",
    ["storage", "operation"],
    registry=_REGISTRY,
)
INGEST_EVENTS = Counter(
    "datastorage_ingest_events",
    "Ingested events by outcome (written, rejected, unmatched).",
    ["outcome"],
    registry=_REGISTRY,
)
IDEMPOTENT_REPLAYS = Counter(
    "datastorage_idempotent_replays",
    "Requests answered by replaying the stored answer of their Idempotency-Key.",
    registry=_REGISTRY,
)
THROTTLED = Counter(
    "datastorage_throttled_requests", "Requests refused 429 by THROTTLE_RATE.", registry=_REGISTRY
)
DATABASE_UNAVAILABLE = Counter(
    "datastorage_database_unavailable",
    "Requests answered 503 database-unavailable (database down, pool exhausted).",
    registry=_REGISTRY,
)
MIGRATION_DURATION = Histogram(
    "datastorage_schema_change_duration_seconds",
    "Time the worker took to apply a version, by outcome (ready, failed).",
    ["outcome"],
    buckets=_MIGRATION_BUCKETS,
    registry=_REGISTRY,
)

MIGRATION_LAST_FAILURE = Gauge(
    "datastorage_schema_change_last_failure_timestamp_seconds",
    "Unix time of the last schema change that failed (0: none since the metrics began).",
    multiprocess_mode="max",
    registry=_REGISTRY,
)
POOL_SIZE = Gauge(
    "datastorage_db_pool_connections",
    "Connections the pools hold (open), summed over the live processes.",
    multiprocess_mode="livesum",
    registry=_REGISTRY,
)
POOL_IN_USE = Gauge(
    "datastorage_db_pool_in_use",
    "Pooled connections handed out to requests right now, over the live processes.",
    multiprocess_mode="livesum",
    registry=_REGISTRY,
)
POOL_WAITING = Gauge(
    "datastorage_db_pool_waiting",
    "Requests waiting for a pooled connection right now, over the live processes.",
    multiprocess_mode="livesum",
    registry=_REGISTRY,
)
POOL_WAIT = Counter(
    "datastorage_db_pool_wait_seconds",
    "Time requests spent waiting for a pooled connection.",
    registry=_REGISTRY,
)
POOL_REQUESTS = Counter(
    "datastorage_db_pool_requests", "Connections asked of the pools.", registry=_REGISTRY
)
POOL_TIMEOUTS = Counter(
    "datastorage_db_pool_timeouts",
    "Requests for a connection that failed (DB_POOL_TIMEOUT passed, or the queue was full).",
    registry=_REGISTRY,
)
MODEL_CACHE_ENTRIES = Gauge(
    "datastorage_model_cache_entries",
    "Compiled storage versions held by the model caches, over the live processes.",
    multiprocess_mode="livesum",
    registry=_REGISTRY,
)
MODEL_CACHE_EVENTS = Counter(
    "datastorage_model_cache",
    "Model cache look-ups by result (hit, miss) and evictions (evicted).",
    ["result"],
    registry=_REGISTRY,
)

_collectors: list[Collector] = []
_samplers: list[Callable[[], None]] = []
_sampled = {"at": 0.0}
_sample_lock = threading.Lock()
_enabled: dict[str, bool] = {}


def enabled() -> bool:
    """METRICS_ENABLED, read once per process (it decides the cost of every request)."""
    if "on" not in _enabled:
        _enabled["on"] = settings.METRICS_ENABLED
    return _enabled["on"]


def forget_settings(**kwargs: Any) -> None:
    """A changed METRICS_ENABLED (tests; core.apps connects this to setting_changed)."""
    _enabled.clear()


def storage_label(name: str) -> str:
    """The storage label: the name (validated at declaration), or one value for all."""
    return name if settings.METRICS_PER_STORAGE else "_all"


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


# (route, method, status, door) -> (counter child, histogram child): resolving a child
# takes a lock and a dict lookup inside prometheus-client, twice per request otherwise.
_children: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}


def request_observed(*, route: str, method: str, status: int, seconds: float, door: str) -> None:
    """One answered request (core.middleware.log_request, both paths)."""
    if not enabled():
        return
    # Normalised first: the method is the client's choice, the key must stay bounded too.
    verb = method if method in _METHODS else "other"
    key = (route, verb, status, door)
    children = _children.get(key)
    if children is None:
        children = (
            HTTP_REQUESTS.labels(route, verb, status_class(status), door),
            HTTP_DURATION.labels(route, door),
        )
        _children[key] = children
    children[0].inc()
    children[1].observe(seconds)
    if time.monotonic() - _sampled["at"] >= SAMPLE_SECONDS:
        sample()


def records_written(storage: str, operation: str, count: int = 1) -> None:
    if enabled() and count:
        RECORDS_WRITTEN.labels(storage_label(storage), operation).inc(count)


def ingest_events(outcome: str, count: int) -> None:
    if enabled() and count:
        INGEST_EVENTS.labels(outcome).inc(count)


def idempotent_replay() -> None:
    if enabled():
        IDEMPOTENT_REPLAYS.inc()


def throttled() -> None:
    if enabled():
        THROTTLED.inc()


def database_unavailable() -> None:
    if enabled():
        DATABASE_UNAVAILABLE.inc()


def schema_change_finished(outcome: str, seconds: float) -> None:
    """A version applied by the worker: `outcome` is its final status (ready, failed)."""
    if enabled():
        MIGRATION_DURATION.labels(outcome).observe(seconds)
        if outcome == "failed":
            MIGRATION_LAST_FAILURE.set(time.time())


# --- samplers and collectors -----------------------------------------------------------


def add_sampler(sampler: Callable[[], None]) -> None:
    """`sampler` copies per-process state into the metrics; run about once a second."""
    if sampler not in _samplers:
        _samplers.append(sampler)


def add_collector(collector: Collector) -> None:
    """`collector.collect()` runs in the scraping process only (database-wide values)."""
    if collector not in _collectors:
        _collectors.append(collector)


def sample() -> None:
    # Non-blocking: a request never waits for another thread's sampling.
    if not _sample_lock.acquire(blocking=False):
        return
    try:
        _sampled["at"] = time.monotonic()
        for sampler in _samplers:
            try:
                sampler()
            except Exception:  # inside a request: a sampler never fails it
                logger.exception("metrics: sampler %s failed", sampler.__qualname__)
    finally:
        _sample_lock.release()


class CounterDelta:
    """Turns a cumulative per-process figure (psycopg's pool statistics, the cache's hits)
    into increments of a counter, which is what sums correctly over processes."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter
        self.seen = 0.0

    def update(self, total: float) -> None:
        if total > self.seen:
            self.counter.inc(total - self.seen)
        self.seen = total


# --- the scrape ------------------------------------------------------------------------


def exposition() -> bytes:
    """The text every process's counters and the collectors make, for GET /metrics."""
    sample()
    return generate_latest(_Scrape())


class _Scrape:
    def collect(self) -> Iterable[Any]:
        if MULTIPROC_DIR:
            forget_dead_processes(Path(MULTIPROC_DIR))
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=MULTIPROC_DIR)
            yield from registry.collect()
        else:
            yield from _REGISTRY.collect()
        for collector in _collectors:
            yield from collector.collect()


# Files of gauges that count only while their process lives ("livesum"), named
# gauge_livesum_<pid>.db by prometheus-client.
_LIVE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")


def forget_dead_processes(directory: Path) -> None:
    """Drops the live gauges of processes that have exited (a granian worker replaced,
    a worker restarted): granian has no hook for a worker's death, so it is checked here,
    at scrape time. Their counters stay: a counter must not go down."""
    for pid in {int(m[1]) for f in _listing(directory) if (m := _LIVE_FILE.match(f))}:
        if not pid_alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))


def _listing(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


# --- the connection pool (this process's, copied in by a sampler) ----------------------

_pool_deltas = {
    "requests_wait_ms": (CounterDelta(POOL_WAIT), 1000.0),
    "requests_num": (CounterDelta(POOL_REQUESTS), 1.0),
    "requests_errors": (CounterDelta(POOL_TIMEOUTS), 1.0),
}


def sample_pool() -> None:
    """psycopg's statistics of this process's pool (none on SQLite or before first use)."""
    stats = pool_stats()
    if stats is None:
        return
    POOL_SIZE.set(stats.get("pool_size", 0))
    POOL_IN_USE.set(stats.get("pool_size", 0) - stats.get("pool_available", 0))
    POOL_WAITING.set(stats.get("requests_waiting", 0))
    for key, (delta, per_unit) in _pool_deltas.items():
        delta.update(stats.get(key, 0) / per_unit)
