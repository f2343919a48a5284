"""Upserts under real concurrency and at size: threads with their own connections, and a
bulk of MAX_BULK_ITEMS."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection
from django.test import Client

from core.testing import storage_db
from storage.runtime import runtime_for

READINGS = "/api/v1/storage/readings/"
MERGE = {"HTTP_PREFER": "resolution=merge-duplicates"}
CLIENTS = 16
KEYS = 40
DELIVERIES = 6  # versions of each key, each client sends every one of them in random order


@pytest.fixture
def readings(create_storage):
    return create_storage(
        {
            "name": "readings",
            "primary_key": {"name": "sensor", "type": "integer"},
            "fields": [
                {"name": "seq", "type": "integer", "required": True},
                {"name": "value", "type": "text", "required": True},
            ],
        }
    )


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("run", range(3))
def test_sixteen_clients_upserting_overlapping_keys_keep_the_newest(readings, admin_token, run):
    """Every client sends every (key, seq) in its own random order, in small bulks: the
    table must end with the newest seq of each key whatever the interleaving."""
    barrier = threading.Barrier(CLIENTS, timeout=30)
    failures: list[BaseException] = []
    statuses: list[int] = []

    def client_run(n: int) -> None:
        generator = random.Random(f"{run}-{n}")
        items = [
            {"sensor": key, "seq": seq, "value": f"{key}:{seq}"}
            for key in range(KEYS)
            for seq in range(DELIVERIES)
        ]
        generator.shuffle(items)
        client = Client(headers={"Authorization": f"Bearer {admin_token}"})
        try:
            barrier.wait()
            for start in range(0, len(items), 20):
                response = client.post(
                    f"{READINGS}?keep_newer=seq",
                    items[start : start + 20],
                    content_type="application/json",
                    **MERGE,
                )
                statuses.append(response.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client_run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert set(statuses) <= {200, 201}, statuses
    stored = dict(runtime_for("readings").model.objects.values_list("sensor", "value"))
    assert stored == {key: f"{key}:{DELIVERIES - 1}" for key in range(KEYS)}


@storage_db
def test_ten_thousand_items_half_of_them_stored(api_client, readings, settings):
    settings.MAX_BULK_ITEMS = 10_000
    half = 5_000
    api_client.post(
        READINGS,
        [{"sensor": key, "seq": 1, "value": "old"} for key in range(half)],
        format="json",
    )
    before = dict(runtime_for("readings").model.objects.values_list("sensor", "_version"))
    items = [
        {"sensor": key, "seq": 2 if key % 2 else 0, "value": "new" if key % 4 == 1 else "old"}
        for key in range(2 * half)
    ]
    for item in items[:half:2]:  # even keys among the stored: same values, or stale
        item["seq"], item["value"] = (1, "old") if item["sensor"] % 4 == 0 else (0, "new")

    response = api_client.post(f"{READINGS}?keep_newer=seq", items, format="json", **MERGE)

    assert response.status_code == 200
    body = response.json()
    operations = [record["_op"] for record in body]
    expected = []
    for key in range(2 * half):
        if key >= half:
            expected.append("created")
        elif key % 2:
            expected.append("updated")
        elif key % 4 == 0:
            expected.append("unchanged")
        else:
            expected.append("stale")
    assert operations == expected
    stored = runtime_for("readings").model.objects
    assert stored.count() == 2 * half
    for record in body[:half]:
        if record["_op"] in ("unchanged", "stale"):
            assert record["_version"] == before[record["sensor"]]
        else:
            assert record["_version"] > before[record["sensor"]]
    assert dict(stored.filter(sensor__lt=half).values_list("sensor", "seq")) == {
        key: 2 if key % 2 else 1 for key in range(half)
    }
