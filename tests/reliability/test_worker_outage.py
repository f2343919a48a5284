"""The migration worker (`manage.py run_worker`) across a PostgreSQL crash and restart.

The server is killed (`pg_ctl stop -m immediate`, as a crash: every session dies at once)
and started again: after 4 s with the worker caught in the middle of a migration
(deterministically: its CREATE INDEX CONCURRENTLY waits for a transaction the test holds
open), and after 30 s with the worker idle, polling its queue. The worker must still be
running, having logged the outage once (no traceback), finish the cut-off migration, and
apply versions declared after the outage. Before, it exited with the first error out of
its task or its poll, and the versions stayed as they were.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest

from factory.schema.builder import index_name
from factory.schema.definition import normalize_definition
from factory.selectors import ready_status, worker_status
from factory.services.versions import version_declare
from tests.reliability.conftest import reset_connections
from tests.reliability.support import Processes, connect, query, wait_for

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

NAME = "rel_kennel"
TABLE = "ds_rel_kennel"
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
# The worker's one line per outage (factory/worker.py).
OUTAGE = "Database unreachable"
# A migration, or the restart, may take a while on a busy machine; this only turns a hang
# into a failure.
DEADLINE = 120


def status() -> tuple[int, str, int, bool]:
    current = ready_status(name=NAME)
    return current["version"], current["status"], current["serving_version"], current["ready"]


def index_valid() -> bool | None:
    rows = query(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s",
        [INDEX],
    )
    return rows[0][0] if rows else None


def building_index() -> bool:
    return bool(
        query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE 'CREATE INDEX CONCURRENTLY%%'"
        )
    )


def _wait_ready(version: int, processes: Processes) -> None:
    """Until `version` serves; on a timeout, say what ready_status and the worker said."""
    try:
        wait_for(
            lambda: status() == (version, "ready", version, True),
            f"version {version}",
            timeout=DEADLINE,
        )
    except AssertionError as exc:
        detail = ready_status(name=NAME)
        raise AssertionError(f"{exc}: {detail}\n{processes.log('worker')[-4000:]}") from None


def log_entries(log: str) -> list[dict[str, Any]]:
    """The JSON log lines (the command's own plain lines left out)."""
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def start_worker(processes: Processes) -> Any:
    command = [sys.executable, "manage.py", "run_worker", "--interval", "0.1"]
    worker = processes.spawn("worker", command)
    wait_for(lambda: "migration(s) resumed" in processes.log("worker"), "the worker to start")
    wait_for(lambda: worker_status().state == "ok", "the worker's first heartbeat")
    return worker


@pytest.mark.parametrize(
    ("outage", "during_migration"),
    [(4, True), pytest.param(30, False, marks=pytest.mark.slow)],
    ids=["4s-during-a-migration", "30s-idle"],
)
def test_the_worker_outlives_a_database_crash_and_finishes_its_migrations(
    outage, during_migration, processes, make_storage, postgres, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    make_storage(V1)
    query(
        f'INSERT INTO "{TABLE}" (name, _version, _created_at, _updated_at) '
        "VALUES ('rex', 1, now(), now()) RETURNING id"
    )
    worker = start_worker(processes)
    blocker = connect()
    try:
        if during_migration:
            blocker.execute("BEGIN")
            blocker.execute(
                f'INSERT INTO "{TABLE}" (name, _version, _created_at, _updated_at) '
                "VALUES ('uncommitted', 1, now(), now())"
            )
            version_declare(name=NAME, data=V2, if_match='"1"')
            wait_for(building_index, "the worker's index build to wait", timeout=DEADLINE)
            assert status() == (2, "migrating", 1, False)

        postgres.stop(mode="immediate")
        stopped = time.monotonic()
        try:
            # Idle, the worker sees the outage when its poll has waited DB_POOL_TIMEOUT.
            wait_for(lambda: OUTAGE in processes.log("worker"), "the worker to see the outage")
            assert worker.poll() is None, processes.log("worker")[-3000:]
            time.sleep(max(0.0, outage - (time.monotonic() - stopped)))
        finally:
            postgres.start()
        reset_connections()

        if during_migration:  # the migration the crash cut off is resumed and completes
            _wait_ready(2, processes)
        else:
            version_declare(name=NAME, data=V2, if_match='"1"')
            wait_for(lambda: status() == (2, "ready", 2, True), "version 2", timeout=DEADLINE)
        assert index_valid() is True
        # A version declared after the outage is applied too.
        version_declare(name=NAME, data=V3, if_match='"2"')
        wait_for(lambda: status() == (3, "ready", 3, True), "version 3", timeout=DEADLINE)
    finally:
        blocker.close()

    log = processes.log("worker")
    assert worker.poll() is None, log[-3000:]
    # One warning for the outage, nothing louder, no traceback; then the recovery.
    loud = [entry["message"] for entry in log_entries(log) if entry["level"] != "INFO"]
    assert len(loud) == 1, loud
    assert loud[0].startswith(OUTAGE)
    assert "Traceback" not in log, log[-3000:]
    assert any(e["message"].startswith("Database back after") for e in log_entries(log))
    assert worker_status().state == "ok"
    assert ready_status(name=NAME)["detail"] is None
    # Nothing lost, the uncommitted write gone with its session, the new column in place.
    assert query(f'SELECT name, colour FROM "{TABLE}"') == [("rex", "grey")]
