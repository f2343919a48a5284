"""Retention with writers at work: a partitioned storage loses its expired partitions whole
(DETACH, DROP, one mark in the change feed) while threads write to the current one; a
plain storage of 200,000 records loses its expired ones in key-ordered batches while a
writer's statements each complete at once (no table lock held by the run)."""

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
from factory.services.partitions import partitions_maintain
from factory.services.retention import retention_run

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def serving(name: str) -> StorageVersion:
    storage = StorageDefinition.objects.get(name=name)
    return storage.versions.get(number=storage.serving_version)


def keys_left(table: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table}")
        return {row[0] for row in cursor.fetchall()}


def follow_feed(client: APIClient, records: str) -> list[dict]:
    entries, url, params = [], f"{records}changes/", {"limit": 1000}
    while True:
        page = client.get(url, params).json()
        entries += page["results"]
        url, params = page["next"], {}
        if not page["results"]:
            return entries


class Writers:
    """Threads writing records through the API until stopped; their errors and keys."""

    def __init__(self, client: APIClient, records: str, make: Any, threads: int) -> None:
        self.client, self.records, self.make = client, records, make
        self.stopping = threading.Event()
        self.keys: list[int] = []
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self.write) for _ in range(threads)]

    def write(self) -> None:
        try:
            while not self.stopping.is_set():
                response = self.client.post(self.records, self.make(), format="json")
                if response.status_code != 201:
                    self.errors.append(response.content.decode())
                else:
                    self.keys.append(response.json()["id"])
        finally:
            connections.close_all()

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        while len(self.keys) < 5 and not self.errors:  # writing before the run starts
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.05)  # still writing after the run ended
        self.stopping.set()
        for thread in self.threads:
            thread.join()


@pytest.mark.parametrize(
    "distribution",
    [
        pytest.param({}, id="table"),
        # sharded on the Citus cluster of `make test-citus` (tests/cluster)
        pytest.param({"distribution": {"shards": 2}}, id="distributed", marks=pytest.mark.citus),
    ],
)
def test_dropping_partitions_while_writers_write_keeps_exactly_what_it_should(
    api_client, create_storage, distribution
):
    records = "/api/v1/storage/clicks/"
    create_storage(
        {
            "name": "clicks",
            "fields": [{"name": "at", "type": "datetime", "required": True}],
            "partition": {"field": "at", "interval": "day"},
            "retention": {"field": "at", "keep": "P2D"},
            **distribution,
        }
    )
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    partitions_maintain(version=serving("clicks"), now=now - timedelta(days=5))  # 4 old days
    cutoff = now - timedelta(days=2)
    moments = {
        "whole": [today - timedelta(days=d, hours=-h) for d in (5, 4, 3) for h in (1, 12)],
        "partial": [cutoff - timedelta(minutes=1)],  # in the cutoff's day, before it
        "default": [datetime(1990, 1, 1, tzinfo=UTC)],
        "kept": [cutoff, cutoff + timedelta(minutes=1), now, datetime(2999, 1, 1, tzinfo=UTC)],
    }
    response = api_client.post(
        records, [{"at": iso(m)} for group in moments.values() for m in group], format="json"
    )
    keys = iter(record["id"] for record in response.json())
    by_group = {group: [next(keys) for _ in ms] for group, ms in moments.items()}
    before = set(FeedTombstone.objects.values_list("key", flat=True))

    writers = Writers(APIClient(), records, lambda: {"at": iso(datetime.now(UTC))}, 3)
    writers.client.credentials(**api_client._credentials)
    with writers:
        removed = retention_run(version=serving("clicks"), now=now)

    assert writers.errors == []
    assert removed == 8  # 6 in three dropped partitions, 1 partial, 1 default
    expected = set(by_group["kept"]) | set(writers.keys)
    assert keys_left("ds_clicks") == expected
    tombstones = set(
        FeedTombstone.objects.filter(removed__isnull=True).values_list("key", flat=True)
    )
    assert tombstones - before == {str(k) for k in by_group["partial"] + by_group["default"]}
    marks = [e for e in follow_feed(api_client, records) if "_removed" in e]
    cutoff_day = (today - timedelta(days=2)).date().isoformat()
    assert [mark["_removed"] for mark in marks] == [
        {"field": "at", "before": f"{cutoff_day}T00:00:00Z"}
    ]
    assert (
        api_client.get("/api/v1/factory/ready_status/clicks/").json()["partitions"]["start"]
        == cutoff_day
    )
    assert retention_run(version=serving("clicks"), now=now) == 0  # nothing more


def test_retention_of_200000_records_goes_in_batches_without_blocking_a_writer(
    api_client, create_storage, settings
):
    settings.RETENTION_BATCH_ITEMS = 40_000
    create_storage(
        {
            "name": "bulk",
            "fields": [{"name": "taken_at", "type": "datetime", "required": True}],
            "retention": {"field": "taken_at", "keep": "PT1H"},
        }
    )
    now = datetime.now(UTC)
    with connection.cursor() as cursor:  # 150,000 expired, 50,000 kept, interleaved
        cursor.execute(
            "INSERT INTO ds_bulk (taken_at, _created_at, _updated_at) SELECT "
            "CASE WHEN n %% 4 = 0 THEN %s ELSE %s END, now(), now() "
            "FROM generate_series(1, 200000) AS n",
            [now, now - timedelta(hours=2)],
        )
    latencies: list[float] = []
    done = threading.Event()

    def write() -> None:
        try:
            while not done.is_set():
                started = time.monotonic()
                with connection.cursor() as cursor:
                    cursor.execute(
                        "INSERT INTO ds_bulk (taken_at, _created_at, _updated_at) "
                        "VALUES (now(), now(), now())"
                    )
                latencies.append(time.monotonic() - started)
                time.sleep(0.005)
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with CaptureQueriesContext(connection) as queries:
            removed = retention_run(version=serving("bulk"), now=now)
    finally:
        done.set()
        writer.join()

    deletes = [q for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert removed == 150_000
    assert len(deletes) == 4  # 40,000 and the last 30,000, one transaction each
    assert len(latencies) > 10
    assert max(latencies) < 1.0
    assert len(keys_left("ds_bulk")) == 50_000 + len(latencies)
