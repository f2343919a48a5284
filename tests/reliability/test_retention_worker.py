"""A real worker (`manage.py run_worker`) runs retention at start and then every
RETENTION_INTERVAL_S: records that expire while it runs go at its next run, each with a
tombstone in the change feed, and ready_status shows the last run."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest

from factory.models import FeedTombstone
from storage.runtime import runtime_for
from tests.reliability.support import wait_for

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

NAME = "rel_expiring"
RECORDS = f"/api/v1/storage/{NAME}/"
READY = f"/api/v1/factory/ready_status/{NAME}/"


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


def _post(api_client, deltas: list[timedelta]) -> list[int]:
    items = [{"taken_at": _at(delta)} for delta in deltas]
    response = api_client.post(RECORDS, items, format="json")
    assert response.status_code == 201, response.content
    return [record["id"] for record in response.json()]


def _removed(api_client) -> int | None:
    return api_client.get(READY).json()["retention"]["removed"]


def test_the_worker_removes_expired_records_every_interval(processes, make_storage, api_client):
    make_storage(
        {
            "name": NAME,
            "fields": [{"name": "taken_at", "type": "datetime"}],
            "retention": {"field": "taken_at", "keep": "PT1H"},
        }
    )
    expired = _post(api_client, [timedelta(hours=-2)] * 3)
    kept = _post(api_client, [timedelta(minutes=-5), timedelta(days=1)])
    command = [sys.executable, "manage.py", "run_worker", "--interval", "0.1"]
    processes.spawn("worker", command, RETENTION_INTERVAL_S="1", RETENTION_BATCH_ITEMS="2")

    wait_for(lambda: _removed(api_client) == 3, "the first run at start", timeout=30)
    later = _post(api_client, [timedelta(hours=-3)] * 2)  # expired when written: next run
    wait_for(lambda: _removed(api_client) == 2, "a run RETENTION_INTERVAL_S later", timeout=30)

    model = runtime_for(NAME).model
    assert set(model.objects.values_list("pk", flat=True)) == set(kept)
    tombstones = FeedTombstone.objects.filter(storage__name=NAME).values_list("key", flat=True)
    assert set(tombstones) == {str(key) for key in expired + later}
    status = api_client.get(READY).json()["retention"]
    assert (status["error"], status["oldest_kept"] is not None) == (None, True)
