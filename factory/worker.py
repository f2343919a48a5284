"""The migration worker: django-tasks-db's queue loop, kept alive across database outages.

django-tasks-db's `Worker.run()` lets any database error out of its loop, so a PostgreSQL
restart ended the process, and a migration cut off by it stayed `migrating` until someone
started a worker again. Here that loop runs inside one that, on a lost database, logs one
warning, waits for the database with capped exponential back-off, resumes the migrations
the outage interrupted, and serves the queue again. A thread meanwhile records the
worker's heartbeat (factory.services.workers), also during long migrations, and another
removes the records of storages with a retention rule (factory.services.retention), after
adding the partitions partitioned storages need ahead (factory.services.partitions).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from factory.services.partitions import partitions_maintain_all
from factory.services.retention import retention_run_all
from factory.services.workers import worker_heartbeat, worker_housekeeping

logger = logging.getLogger("datastorage.worker")

HEARTBEAT_SECONDS = 5
# How often the heartbeat thread prunes (factory.services.workers.worker_housekeeping).
HOUSEKEEPING_SECONDS = 3600
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 10.0
# What a lost or unreachable database raises. Anything else (a missing table, a bug) is
# not waited out: the worker stops with its traceback.
UNREACHABLE = (OperationalError, InterfaceError)
POOL_LOGGER = "psycopg.pool"


# What else the worker resumes when it starts and after an outage, besides migrations:
# registered by the apps above the factory (storage's jobs), which the factory cannot name.
_resumers: list[Callable[[], object]] = []


def on_resume(resume: Callable[[], object]) -> None:
    """Have every worker run `resume` (idempotent: it may run on several workers at once)
    when it starts, after a database outage and after a task that raised."""
    if resume not in _resumers:
        _resumers.append(resume)


def resume_registered() -> None:
    for resume in _resumers:
        resume()


def backoff_delays(first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> Iterator[float]:
    """0.5, 1, 2, 4, 8, 10, 10, ... seconds."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


def database_answers() -> bool:
    """One round trip on a fresh connection of this thread's."""
    try:
        connection.close()  # a connection the outage broke is dropped, not reused
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except UNREACHABLE:
        return False
    return True


class ResilientWorker(Worker):
    """django-tasks-db's worker, run again after each database outage; `resume` runs the
    migrations left pending or migrating, at start and after every outage."""

    def __init__(self, *, resume: Callable[[], None], **options) -> None:
        super().__init__(**options)
        self.resume = resume

    def run(self) -> None:
        while True:
            try:
                self.resume()
                super().run()  # returns only in batch mode or after max_tasks
                return
            except UNREACHABLE as exc:
                if not self.running:  # asked to stop while its last task was cut off
                    return
                self.wait_for_database(exc)
            # One random start-up delay is enough; after an outage, serve at once.
            self.startup_delay = False

    def run_task(self, db_task_result: DBTaskResult) -> None:
        super().run_task(db_task_result)
        # A migration records its own failures; a task that raised was cut off (by an
        # outage over before its failure could be written) and left its version pending
        # or migrating: run it again now rather than never. (One cut off by a second
        # SIGTERM is left to the next start: the worker is stopping.)
        if db_task_result.status == TaskResultStatus.FAILED and self.running:
            self.resume()

    def wait_for_database(self, exc: BaseException) -> None:
        """Sleep with back-off until the database answers (a signal still stops the
        worker: the sleeps are outside any task)."""
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        logger.warning(
            "Database unreachable (%s); worker %s retrying with back-off up to %.0f s",
            reason,
            self.worker_id,
            BACKOFF_CAP,
        )
        lost_at = time.monotonic()
        for delay in backoff_delays():
            time.sleep(delay)
            if database_answers():
                break
        logger.info(
            "Database back after %.1f s of retries; worker %s resumes interrupted migrations",
            time.monotonic() - lost_at,
            self.worker_id,
        )


def mute_pool_warnings() -> None:
    """Only errors from psycopg's pool in this process: it warns of every failed attempt
    to connect, several a second through an outage, which the worker's one warning says."""
    logging.getLogger(POOL_LOGGER).setLevel(logging.ERROR)


class Heartbeat(threading.Thread):
    """Records every HEARTBEAT_SECONDS that this worker is alive, on a connection of its
    own, whatever the queue loop is doing, and every HOUSEKEEPING_SECONDS prunes what has
    expired (workers long gone, old audit entries). An outage is the loop's to report: a
    failed beat is only retried at the next one."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name="worker-heartbeat", daemon=True)
        self.worker_id = worker_id
        self.stopping = threading.Event()
        self.pruned_at = time.monotonic()

    def first_beat(self) -> None:
        """The first beat (and the first pruning), in the caller's thread
        before the queue loop starts: on SQLite a beat from the thread at the very moment
        the loop resumes a migration met "database table is locked" (tests' in-memory
        database has no busy timeout)."""
        self._beat()
        self._housekeeping()

    def run(self) -> None:
        while not self.stopping.wait(HEARTBEAT_SECONDS):
            self._beat()
            if time.monotonic() - self.pruned_at >= HOUSEKEEPING_SECONDS:
                self._housekeeping()

    def _housekeeping(self) -> None:
        self.pruned_at = time.monotonic()
        with contextlib.suppress(*UNREACHABLE):
            worker_housekeeping()
            connections.close_all()

    def _beat(self) -> None:
        try:
            worker_heartbeat(worker_id=self.worker_id, host=socket.gethostname(), pid=os.getpid())
            connections.close_all()  # back to the pool between beats
        except UNREACHABLE:
            logger.debug("heartbeat of worker %s failed", self.worker_id, exc_info=True)
            self._drop_connection()

    @staticmethod
    def _drop_connection() -> None:
        # Broken already: closing it may fail, and Django forgets it either way.
        with contextlib.suppress(*UNREACHABLE):
            connections.close_all()


class Retention(threading.Thread):
    """Runs every storage's retention at start and then every RETENTION_INTERVAL_S, on a
    connection of its own: apart from the heartbeat, whose beats a long run must not
    delay, and from the queue loop, whose migrations it must not hold up. Each run first
    adds the partitions partitioned storages need ahead (PARTITIONS_AHEAD). An outage or a
    failed run is only retried at the next run."""

    def __init__(self) -> None:
        super().__init__(name="worker-retention", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        while True:
            self.run_once()
            if self.stopping.wait(settings.RETENTION_INTERVAL_S):
                return

    @staticmethod
    def run_once() -> None:
        try:
            added = partitions_maintain_all()
            if any(added.values()):
                logger.info("partitions added %s", added)
            removed = retention_run_all()
            if any(removed.values()):
                logger.info("retention removed %s", removed)
        except UNREACHABLE:
            logger.debug("retention run failed: database unreachable", exc_info=True)
        except Exception:
            logger.exception("retention run failed")
        finally:
            with contextlib.suppress(*UNREACHABLE):
                connections.close_all()  # back to the pool between runs
