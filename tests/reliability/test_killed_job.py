"""A worker killed with SIGKILL in the middle of a delete by filter job.

The job deletes in key-ordered batches, each batch and the job's progress in one
transaction. The worker is caught mid-way, deterministically: the test holds a lock on a
row of a later batch, so the worker's DELETE of that batch waits; then it is killed. Its
batch rolled back with its session, the job's progress says what committed, and a worker
started afterwards resumes the job and finishes it once: every match deleted, nothing
else, `processed` equal to the matches.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest
from django.db import connection

from storage.models import RecordJob
from storage.runtime import runtime_for
from tests.reliability.support import connect, query, wait_for

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

NAME = "rel_readings"
RECORDS = f"/api/v1/storage/{NAME}/"
ROWS = 3000
BATCH = 200
LOCKED = 1501  # an odd key: the 751st match, in the fourth batch of 200
DONE = LOCKED // (2 * BATCH)  # the batches before it: 3


def _worker(processes, name: str, *extra: str):
    command = [sys.executable, "manage.py", "run_worker", "--interval", "0.1", *extra]
    return processes.spawn(name, command, JOB_BATCH_ITEMS=str(BATCH))


def _job() -> RecordJob:
    return RecordJob.objects.get()


def _blocked_on_lock() -> bool:
    return bool(
        query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE 'DELETE%%'"
        )
    )


def test_a_job_survives_a_killed_worker_and_finishes_once(
    processes, make_storage, api_client, settings
):
    make_storage(
        {
            "name": NAME,
            "primary_key": {"name": "n", "type": "integer"},
            "fields": [{"name": "odd", "type": "boolean", "required": True}],
        }
    )
    items = [{"n": n, "odd": bool(n % 2)} for n in range(1, ROWS + 1)]
    assert api_client.post(RECORDS, items, format="json").status_code == 201
    settings.MAX_BULK_ITEMS = 100
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    holder = connect()
    holder.execute("BEGIN")  # the lock lasts until the rollback below
    holder.execute(f"SELECT * FROM ds_{NAME} WHERE n = %s FOR UPDATE", [LOCKED])
    try:
        response = api_client.delete(f"{RECORDS}?odd=true")
        assert response.status_code == 202
        worker = _worker(processes, "worker")
        wait_for(_blocked_on_lock, "the worker's DELETE waiting on the locked row")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    job = _job()
    assert job.status == "running"
    assert job.processed == DONE * BATCH  # the batches before the locked row's, no more
    assert int(job.after) == 2 * DONE * BATCH - 1
    model = runtime_for(NAME).model
    assert model.objects.filter(odd=True).count() == ROWS // 2 - DONE * BATCH

    resumed = _worker(processes, "resumed", "--batch")
    resumed.wait(timeout=120)

    job = _job()
    assert (job.status, job.processed, job.total, job.errors) == ("done", ROWS // 2, ROWS // 2, [])
    assert model.objects.filter(odd=True).count() == 0
    assert model.objects.count() == ROWS // 2
    assert "resuming job" in processes.log("resumed")
    connection.close()
