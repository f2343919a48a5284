"""Retention runs (factory.services.retention): expired records removed in key-ordered
batches, nothing kept that should go, nothing removed that should stay, a tombstone in the
change feed for each, and the run shown in ready_status. A real worker process running
them every RETENTION_INTERVAL_S is in tests/reliability/test_retention_worker.py."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from factory.models import FeedTombstone, StorageDefinition, StorageVersion
from factory.services.retention import retention_run, retention_run_all
from factory.worker import Retention

# The feed serves committed positions only: every test commits.
pytestmark = pytest.mark.django_db(transaction=True)

RECORDS = "/api/v1/storage/readings/"
READY = "/api/v1/factory/ready_status/readings/"
NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(hours=1)  # keep: PT1H


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def make_readings(create_storage, field_type: str = "datetime", keep: str = "PT1H") -> None:
    create_storage(
        {
            "name": "readings",
            "fields": [
                {"name": "sensor", "type": "integer", "required": True},
                {"name": "taken_at", "type": field_type},
            ],
            "retention": {"field": "taken_at", "keep": keep},
        }
    )


def serving() -> StorageVersion:
    storage = StorageDefinition.objects.get(name="readings")
    return storage.versions.get(number=storage.serving_version)


def post(client: APIClient, items: list[dict[str, Any]]) -> list[int]:
    response = client.post(RECORDS, items, format="json")
    assert response.status_code == 201, response.content
    return [record["id"] for record in response.json()]


def keys_left() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM ds_readings")
        return {row[0] for row in cursor.fetchall()}


def follow_feed(client: APIClient) -> list[dict]:
    entries, url, params = [], f"{RECORDS}changes/", {"limit": 1000}
    while True:
        page = client.get(url, params).json()
        entries += page["results"]
        url, params = page["next"], {}
        if not page["results"]:
            return entries


def test_a_run_removes_what_expired_in_key_order_batches_and_keeps_the_rest(
    api_client, create_storage, settings
):
    settings.RETENTION_BATCH_ITEMS = 4
    make_readings(create_storage)
    # Interleaved, so that every batch spans kept records too: expired, kept, null.
    shapes = [
        CUTOFF - timedelta(days=30),
        CUTOFF + timedelta(minutes=5),
        None,
    ]
    items = [{"sensor": i, "taken_at": shapes[i % 3] and iso(shapes[i % 3])} for i in range(30)]
    items += [
        {"sensor": 100, "taken_at": iso(CUTOFF)},  # exactly at the cutoff: kept
        {"sensor": 101, "taken_at": iso(CUTOFF - timedelta(microseconds=1))},  # expired
    ]
    keys = post(api_client, items)
    expired = {keys[i] for i in range(0, 30, 3)} | {keys[31]}
    assert len(expired) == 11
    before = {tombstone.key for tombstone in FeedTombstone.objects.all()}

    with CaptureQueriesContext(connection) as queries:
        removed = retention_run(version=serving(), now=NOW)

    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert removed == 11
    assert len(deletes) == 3  # 4 + 4 + 3, one transaction each
    assert keys_left() == set(keys) - expired
    assert {t.key for t in FeedTombstone.objects.all()} - before == {str(k) for k in expired}
    deletions = [e for e in follow_feed(api_client) if e.get("_deleted")]
    assert sorted(entry["id"] for entry in deletions) == sorted(expired)
    status = api_client.get(READY).json()["retention"]
    assert status == {
        "field": "taken_at",
        "keep": "PT1H",
        "last_run_at": status["last_run_at"],
        "removed": 11,
        "oldest_kept": iso(CUTOFF),
        "error": None,
    }
    assert status["last_run_at"] is not None

    assert retention_run(version=serving(), now=NOW) == 0  # nothing more to remove
    assert keys_left() == set(keys) - expired


def test_a_date_field_expires_only_once_its_whole_day_is_past(api_client, create_storage):
    make_readings(create_storage, field_type="date", keep="P1D")
    days = ["2026-03-03", "2026-03-04", "2026-03-05"]  # NOW is 10:00 on 5 March
    keys = post(api_client, [{"sensor": n, "taken_at": day} for n, day in enumerate(days)])

    assert retention_run(version=serving(), now=NOW) == 1

    assert keys_left() == set(keys[1:])
    assert api_client.get(READY).json()["retention"]["oldest_kept"] == "2026-03-04"


def test_run_all_runs_only_the_serving_rules_and_a_changed_rule_applies_next(
    api_client, create_storage
):
    make_readings(create_storage, keep="P2D")
    create_storage({"name": "plain", "fields": [{"name": "at", "type": "datetime"}]})
    now = datetime.now(UTC)
    keys = post(
        api_client, [{"sensor": d, "taken_at": iso(now - timedelta(days=d))} for d in (1, 3)]
    )

    assert retention_run_all() == {"readings": 1}
    assert keys_left() == {keys[0]}

    definition = {**serving().definition, "retention": {"field": "taken_at", "keep": "PT1H"}}
    changed = api_client.put(
        "/api/v1/factory/storage/readings/", definition, format="json", HTTP_IF_MATCH='"1"'
    )
    assert (changed.status_code, changed.json()["status"]) == (200, "ready")
    assert retention_run_all() == {"readings": 1}
    assert keys_left() == set()


@pytest.mark.postgresql
def test_twenty_thousand_records_go_in_batches_while_writers_go_on(
    api_client, admin_token, create_storage, settings
):
    settings.RETENTION_BATCH_ITEMS = 5000
    make_readings(create_storage)
    old, recent = iso(CUTOFF - timedelta(days=1)), iso(CUTOFF + timedelta(minutes=1))
    keys: list[int] = []
    for start in range(0, 20_000, 5000):  # every other record expired
        chunk = [
            {"sensor": n, "taken_at": old if n % 2 else recent} for n in range(start, start + 5000)
        ]
        keys += post(api_client, chunk)
    kept = set(keys[0::2])
    writer = Writer(admin_token, kept_key=keys[0])

    writer.start()
    writer.started.wait(10)
    started = time.monotonic()
    removed = retention_run(version=serving(), now=NOW)
    took = time.monotonic() - started
    writer.stop()

    print(  # the figures the report quotes (pytest -s)
        f"\nretention of 10,000 of 20,000 records: {took:.2f} s; writer: {len(writer.latencies)}"
        f" writes, slowest {max(writer.latencies) * 1000:.0f} ms"
    )
    assert writer.errors == []
    assert removed == 10_000
    assert keys_left() == kept | set(writer.created)
    assert FeedTombstone.objects.filter(storage__name="readings").count() == 10_000
    # Writers waited for a batch's row locks at most, never for the whole run.
    assert writer.during(started, started + took) > 0
    assert max(writer.latencies) < max(2.0, took / 2)


class Writer(threading.Thread):
    """Creates recent records and updates a kept one through the API, timing each write."""

    def __init__(self, token: str, kept_key: int) -> None:
        super().__init__(daemon=True)
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.kept_key = kept_key
        self.stopping, self.started = threading.Event(), threading.Event()
        self.latencies: list[float] = []
        self.finished_at: list[float] = []
        self.created: list[int] = []
        self.errors: list[Any] = []

    def run(self) -> None:
        try:
            n = 0
            while not self.stopping.is_set():
                self._write(n)
                self.started.set()
                n += 1
        finally:
            connections.close_all()

    def _write(self, n: int) -> None:
        began = time.monotonic()
        if n % 2:
            response = self.client.patch(
                f"{RECORDS}{self.kept_key}/", {"sensor": n}, format="json", HTTP_IF_MATCH="*"
            )
        else:
            body = {"sensor": n, "taken_at": iso(NOW)}
            response = self.client.post(RECORDS, body, format="json")
            if response.status_code == 201:
                self.created.append(response.json()["id"])
        self.latencies.append(time.monotonic() - began)
        self.finished_at.append(time.monotonic())
        if response.status_code not in (200, 201):
            self.errors.append((response.status_code, response.content))

    def during(self, start: float, end: float) -> int:
        return sum(start <= at <= end for at in self.finished_at)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


def test_a_failed_run_records_its_error_and_the_worker_thread_goes_on(
    api_client, create_storage, caplog
):
    make_readings(create_storage)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE ds_readings")

    Retention.run_once()  # logs, never raises: the thread runs again next interval

    status = api_client.get(READY).json()["retention"]
    assert (status["removed"], status["oldest_kept"]) == (0, None)
    assert "ds_readings" in status["error"]
    assert "retention of storage readings stopped" in caplog.text
