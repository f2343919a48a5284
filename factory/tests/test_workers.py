"""The worker's heartbeat (factory.services.workers), worker_status, and what ready_status
says of a version waiting on a worker that is not there."""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone

from audit.models import AuditEntry
from audit.tests.factories import entry
from core.testing import storage_db
from factory.models import WorkerHeartbeat
from factory.selectors import WorkerStatus, worker_status
from factory.services import workers
from factory.services.workers import (
    worker_heartbeat,
    worker_heartbeats_prune,
    worker_housekeeping,
)
from factory.tests.test_migrations import restored_signal_handlers
from factory.worker import Heartbeat, ResilientWorker, backoff_delays

URL = "/api/v1/factory/storage/pets/"
READY = "/api/v1/factory/ready_status/pets/"
PETS = {"name": "pets", "fields": [{"name": "name", "type": "text", "required": True}]}
# A new indexed field: DDL, so version 2 waits for the worker.
PETS_V2 = {
    **PETS,
    "fields": [*PETS["fields"], {"name": "colour", "type": "text"}],
    "indexes": [{"fields": ["colour"]}],
}
HINT = "start one with `manage.py run_worker`."


def seen(worker_id: str, seconds_ago: float) -> None:
    """A heartbeat row last written `seconds_ago` by the database's clock."""
    when = Now() - timedelta(seconds=seconds_ago)
    WorkerHeartbeat.objects.create(
        worker_id=worker_id, host="host-a", pid=1, started_at=when, last_seen=when
    )


@pytest.fixture
def pending_pets(api_client, create_storage, monkeypatch):
    """Storage `pets` whose version 2 is declared and pending: no worker takes it."""
    monkeypatch.setattr("factory.services.versions.enqueue_migration", lambda *args: None)
    create_storage(PETS)
    response = api_client.put(URL, PETS_V2, format="json", HTTP_IF_MATCH='"1"')
    assert (response.status_code, response.json()["status"]) == (202, "pending")


def expected(detail: str | None, status: str = "pending") -> dict:
    return {
        "name": "pets",
        "version": 2,
        "serving_version": 1,
        "status": status,
        "ready": False,
        "detail": detail,
        "retention": None,
        "partitions": None,
    }


# --- ready_status -------------------------------------------------------------------------


@storage_db
def test_a_pending_version_says_no_worker_was_ever_seen(api_client, pending_pets):
    assert api_client.get(READY).json() == expected(f"No worker has ever been seen; {HINT}")


@storage_db
def test_a_pending_version_says_how_long_ago_the_last_worker_was_seen(
    api_client, pending_pets, settings
):
    settings.WORKER_LATE_SECONDS = 30
    seen("gone-long-ago", 400)
    seen("gone", 95)

    assert api_client.get(READY).json() == expected(f"No worker has been seen for 95 s; {HINT}")


@storage_db
def test_a_pending_version_says_nothing_more_while_a_worker_beats(
    api_client, pending_pets, settings
):
    settings.WORKER_LATE_SECONDS = 30
    seen("gone", 95)
    seen("alive", 3)

    assert api_client.get(READY).json() == expected(None)


@storage_db
def test_the_late_threshold_is_configurable(api_client, pending_pets, settings):
    seen("slow", 95)
    settings.WORKER_LATE_SECONDS = 120

    assert api_client.get(READY).json() == expected(None)


@storage_db
def test_a_migrating_version_without_a_worker_says_so_too(api_client, pending_pets):
    from factory.models import StorageVersion

    StorageVersion.objects.filter(storage__name="pets", number=2).update(status="migrating")

    assert api_client.get(READY).json() == expected(
        f"No worker has ever been seen; {HINT}", status="migrating"
    )


@storage_db
def test_a_ready_or_failed_version_needs_no_worker(api_client, create_storage):
    create_storage(PETS)

    body = api_client.get(READY).json()

    assert (body["status"], body["detail"]) == ("ready", None)


# --- worker_status and the heartbeat ------------------------------------------------------


@pytest.mark.django_db
def test_worker_status_is_absent_late_or_ok(settings):
    settings.WORKER_LATE_SECONDS = 30
    assert worker_status() == WorkerStatus("absent")

    seen("old", 31)
    status = worker_status()
    assert (status.state, round(status.seconds)) == ("late", 31)

    seen("fresh", 0)
    status = worker_status()
    assert (status.state, round(status.seconds)) == ("ok", 0)


@pytest.mark.django_db
def test_a_heartbeat_keeps_one_row_per_worker_and_moves_it_forward():
    seen("w1", 60)
    worker_heartbeat(worker_id="w1", host="host-a", pid=1)
    worker_heartbeat(worker_id="w2", host="host-b", pid=20)
    worker_heartbeat(worker_id="w2", host="host-b", pid=20)

    rows = WorkerHeartbeat.objects.annotate(age=Now() - F("last_seen")).order_by("worker_id")
    assert [(r.worker_id, r.host, r.pid) for r in rows] == [
        ("w1", "host-a", 1),
        ("w2", "host-b", 20),
    ]
    assert [r.age < timedelta(seconds=5) for r in rows] == [True, True]


@pytest.mark.django_db
def test_workers_gone_for_a_day_are_forgotten():
    seen("gone", 24 * 3600 + 60)
    seen("recent", 23 * 3600)

    assert worker_heartbeats_prune() == 1

    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["recent"]


@pytest.mark.django_db
def test_housekeeping_prunes_audit_entries_past_retention_in_batches(settings, monkeypatch):
    settings.AUDIT_RETENTION_DAYS = 7
    monkeypatch.setattr(workers, "AUDIT_PRUNE_BATCH", 2)
    for days in (8, 9, 10, 11, 12):
        entry(at=timezone.now() - timedelta(days=days))
    kept = entry(at=timezone.now() - timedelta(days=6)).id
    seen("gone", 24 * 3600 + 60)

    assert worker_housekeeping() == {
        "heartbeats": 1,
        "feed_waiters": 0,
        "audit": 5,
        "tombstones": 0,
    }

    assert list(AuditEntry.objects.values_list("id", flat=True)) == [kept]


@pytest.mark.django_db(transaction=True)
def test_the_worker_prunes_at_start_and_then_every_hour(monkeypatch):
    calls = []
    monkeypatch.setattr("factory.worker.worker_housekeeping", lambda: calls.append(1))
    heartbeat = Heartbeat("w-test")

    heartbeat.first_beat()
    assert calls == [1]
    heartbeat.pruned_at -= 3600  # an hour later, the next beat prunes again
    answers = iter([False, True])  # one beat, then asked to stop
    monkeypatch.setattr(heartbeat.stopping, "wait", lambda seconds: next(answers))
    heartbeat.run()

    assert calls == [1, 1]


def test_the_back_off_doubles_from_half_a_second_up_to_ten():
    assert list(itertools.islice(backoff_delays(), 8)) == [0.5, 1, 2, 4, 8, 10, 10, 10]


# --- the worker's loop (the real outage: tests/reliability/test_worker_outage.py) ---------


def resilient_worker(resume) -> ResilientWorker:
    return ResilientWorker(
        resume=resume,
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )


@pytest.mark.django_db(transaction=True)  # the worker's loop closes connections
def test_the_worker_waits_out_an_unreachable_database_and_resumes_again(monkeypatch, caplog):
    resumed = []

    def resume() -> None:
        resumed.append(len(resumed))
        if len(resumed) == 1:
            raise OperationalError("couldn't get a connection after 5.00 sec")

    answers = iter([False, False, True])
    monkeypatch.setattr("factory.worker.database_answers", lambda: next(answers))
    slept: list[float] = []
    monkeypatch.setattr("factory.worker.time.sleep", slept.append)

    resilient_worker(resume).run()

    assert resumed == [0, 1]
    assert slept == [0.5, 1, 2]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "Database unreachable (couldn't get a connection after 5.00 sec); worker test-worker "
        "retrying with back-off up to 10 s"
    ]


@pytest.mark.django_db(transaction=True)
def test_a_task_cut_off_by_the_database_is_resumed_at_once(settings, monkeypatch):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    # Imported here: importing the task at collection would bind the backend for the suite
    # before conftest's inline backend is set.
    from factory.tasks import apply_version

    def cut_off(**kwargs) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("factory.tasks.migration_run", cut_off)
    apply_version.enqueue(storage_id=1, number=2)
    resumed = []

    with restored_signal_handlers():
        resilient_worker(lambda: resumed.append("resume")).run()

    # At start, then after the task that raised: its version would stay migrating.
    assert resumed == ["resume", "resume"]
