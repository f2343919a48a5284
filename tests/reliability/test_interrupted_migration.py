"""A storage migration whose worker is killed half-way, during an index build and during a
column add; a new worker resumes it.

Each step is caught half-way deterministically, with a lock the test holds:
- CREATE INDEX CONCURRENTLY waits for a transaction that has written to the table; by then
  the index exists, invalid. The worker is killed with SIGKILL and its database session
  ends with it (as when the machine is lost or PostgreSQL drops the session).
- ALTER TABLE ... ADD COLUMN waits for a lock the test holds (and gives up and retries
  every 2 s); the worker is killed, and its orphaned session rolls back.
Throughout, a watcher reads ready_status and checks the table: it must never say ready
before the change is really there. After the restart the migration completes, no invalid
index remains and no record is lost.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

import pytest
from django.db import connections

from factory.schema.builder import index_name
from factory.schema.definition import normalize_definition
from factory.selectors import ready_status
from factory.services.versions import version_declare
from storage import services
from storage.runtime import runtime_for
from tests.reliability.support import Processes, connect, query, wait_for

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

NAME = "rel_herd"
TABLE = "ds_rel_herd"
V1 = {"name": NAME, "fields": [{"name": "name", "type": "text", "required": True}]}
V2 = {**V1, "indexes": [{"fields": ["name"]}]}
V3 = {
    **V2,
    "fields": [
        *V1["fields"],
        {"name": "colour", "type": "text", "nullable": False, "default": "grey"},
    ],
}
INDEX = index_name(TABLE, normalize_definition(V2)["indexes"][0])
RECORDS = 3000


def index_valid() -> bool | None:
    rows = query(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s",
        [INDEX],
    )
    return rows[0][0] if rows else None


def invalid_indexes() -> list[str]:
    rows = query(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = %s AND NOT i.indisvalid",
        [TABLE],
    )
    return [name for (name,) in rows]


def column_exists() -> bool:
    return bool(
        query(
            "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            [TABLE, "colour"],
        )
    )


def waiting_backend(statement: str) -> int | None:
    rows = query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query ILIKE %s",
        [statement + "%"],
    )
    return rows[0][0] if rows else None


def backend_gone(pid: int) -> bool:
    return not query("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])


class ReadyWatch(threading.Thread):
    """Reads ready_status over and over; whenever it names a version as served or ready,
    that version's change must already be in the table."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[tuple[int, str, int]] = set()
        self.lies: list[dict[str, Any]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                status = ready_status(name=NAME)
                self.seen.add((status["version"], status["status"], status["serving_version"]))
                done = max(status["serving_version"], status["version"] if status["ready"] else 0)
                if (done >= 2 and index_valid() is not True) or (done >= 3 and not column_exists()):
                    self.lies.append(status)
                time.sleep(0.01)  # leave the CPU to the worker
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


class Worker:
    """`manage.py run_worker`, started again after each kill (a log file per start)."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        self.starts = 0
        self.process: Any = None

    def start(self) -> None:
        self.starts += 1
        name = f"worker{self.starts}"
        command = [sys.executable, "manage.py", "run_worker", "--interval", "0.1"]
        self.process = self.processes.spawn(name, command)
        wait_for(lambda: "migration(s) resumed" in self.processes.log(name), f"{name} to start")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def status() -> tuple[int, str, int, bool]:
    current = ready_status(name=NAME)
    return current["version"], current["status"], current["serving_version"], current["ready"]


def test_a_killed_migration_resumes_and_loses_nothing(processes, make_storage, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    make_storage(V1)
    names = [{"name": f"n{n}"} for n in range(RECORDS)]
    services.record_bulk_create(runtime=runtime_for(NAME), items=names)
    watch = ReadyWatch()
    watch.start()
    worker = Worker(processes)
    blocker = connect()
    try:
        worker.start()
        # --- an index build, killed half-way --------------------------------------------
        blocker.execute("BEGIN")
        blocker.execute(
            f'INSERT INTO "{TABLE}" (name, _version, _created_at, _updated_at) '
            "VALUES ('uncommitted', 1, now(), now())"
        )
        version_declare(name=NAME, data=V2, if_match='"1"')
        building = wait_for(lambda: waiting_backend("CREATE INDEX CONCURRENTLY"), "the build")
        assert index_valid() is False
        assert status() == (2, "migrating", 1, False)
        worker.kill()
        query("SELECT pg_terminate_backend(%s::int)", [building])
        wait_for(lambda: backend_gone(building), "the build's session to end")
        blocker.execute("ROLLBACK")
        assert invalid_indexes() == [INDEX]
        assert status() == (2, "migrating", 1, False)

        worker.start()
        wait_for(lambda: status() == (2, "ready", 2, True), "version 2 to be ready")
        assert invalid_indexes() == []
        assert index_valid() is True

        # --- a column add, killed half-way ----------------------------------------------
        blocker.execute("BEGIN")
        blocker.execute(f'LOCK TABLE "{TABLE}" IN ACCESS SHARE MODE')
        version_declare(name=NAME, data=V3, if_match='"2"')
        altering = wait_for(lambda: waiting_backend("ALTER TABLE"), "the column add")
        assert status() == (3, "migrating", 2, False)
        worker.kill()
        # The orphaned session gives up on its lock (lock_timeout), finds its client gone
        # and rolls back.
        wait_for(lambda: backend_gone(altering), "the column add's session to end")
        blocker.execute("ROLLBACK")
        assert not column_exists()
        assert status() == (3, "migrating", 2, False)

        worker.start()
        wait_for(lambda: status() == (3, "ready", 3, True), "version 3 to be ready")
    finally:
        watch.stop()
        blocker.close()

    assert column_exists()
    assert invalid_indexes() == []
    assert watch.lies == []
    assert {(2, "migrating", 1), (3, "migrating", 2)} <= watch.seen
    rows = runtime_for(NAME).model.objects.values_list("name", "colour")
    assert sorted(rows) == sorted((item["name"], "grey") for item in names)
