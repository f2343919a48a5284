"""The metrics recorded in process: requests by route and door, records written, the model
cache, schema changes; label values that no client chooses. (A real multi-process server:
tests/reliability/test_metrics.py; who may scrape: access/tests/test_metrics.py.)"""

from __future__ import annotations

import secrets

from django.conf import settings

from core import metrics
from core.testing import storage_db
from core.tests.scrapes import label_values, samples, value
from factory.models import StorageVersion, VersionStatus
from factory.tests.factories import dogs_definition

pytestmark = storage_db

REQUESTS = "datastorage_http_requests_total"
WRITTEN = "datastorage_records_written_total"
DOG = {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z"}


def scrape() -> dict:
    return samples(metrics.exposition().decode())


def test_a_record_read_is_counted_once_under_its_route_whichever_door_answers(
    api_client, create_storage
):
    create_storage(dogs_definition())
    key = api_client.post("/api/v1/storage/dogs/", DOG, format="json").json()["id"]
    before = scrape()
    for _ in range(3):
        assert api_client.get(f"/api/v1/storage/dogs/{key}/").status_code == 200
    after = scrape()
    labels = {"route": "record-detail", "method": "GET", "status": "2xx"}
    assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 3
    door = "front" if settings.RECORDS_FAST_PATH else "django"
    assert (
        value(after, REQUESTS, door=door, **labels) - value(before, REQUESTS, door=door, **labels)
        == 3
    )
    duration = "datastorage_http_request_duration_seconds_count"
    assert (
        value(after, duration, route="record-detail")
        - value(before, duration, route="record-detail")
        >= 3
    )


def test_the_general_path_counts_by_url_pattern_name(anonymous_client):
    before = scrape()
    anonymous_client.get("/api/v1/health/live/")
    after = scrape()
    labels = {"route": "health-live", "door": "django", "status": "2xx", "method": "GET"}
    assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 1


def test_hostile_paths_and_methods_create_no_label_values(api_client):
    before = scrape()
    for _ in range(10_000):
        path = f"/{secrets.token_urlsafe(12)}/{secrets.token_hex(4)}"
        api_client.get(path)
    api_client.generic("BREW", "/api/v1/storage/x/")
    api_client.get(f"/api/v1/storage/{secrets.token_hex(8)}/")  # a name: still one route
    after = scrape()
    assert (
        value(after, REQUESTS, route="unmatched") - value(before, REQUESTS, route="unmatched")
        >= 10_000
    )
    new_series = {key for key in after if key[0] == REQUESTS} - set(before)
    assert len(new_series) <= 4, new_series
    for label in ("route", "method", "status", "door"):
        values = label_values(after, REQUESTS, label)
        assert all(len(v) <= 40 for v in values), values
    assert "BREW" not in label_values(after, REQUESTS, "method")


def test_records_written_by_storage_and_operation(api_client, create_storage):
    create_storage(dogs_definition())
    before = scrape()
    created = api_client.post("/api/v1/storage/dogs/", DOG, format="json").json()
    api_client.post("/api/v1/storage/dogs/", [DOG, DOG], format="json")
    api_client.patch(
        f"/api/v1/storage/dogs/{created['id']}/", {"name": "Max"}, format="json", HTTP_IF_MATCH="*"
    )
    api_client.delete(f"/api/v1/storage/dogs/{created['id']}/")
    after = scrape()
    for operation, count in (("create", 1), ("bulk", 2), ("update", 1), ("delete", 1)):
        labels = {"storage": "dogs", "operation": operation}
        assert value(after, WRITTEN, **labels) - value(before, WRITTEN, **labels) == count


def test_metrics_per_storage_off_sums_every_storage_under_one_label(
    api_client, create_storage, settings
):
    create_storage(dogs_definition())
    settings.METRICS_PER_STORAGE = False
    before = scrape()
    api_client.post("/api/v1/storage/dogs/", DOG, format="json")
    after = scrape()
    labels = {"storage": "_all", "operation": "create"}
    assert value(after, WRITTEN, **labels) - value(before, WRITTEN, **labels) == 1


def test_metrics_disabled_count_nothing(api_client, settings):
    settings.METRICS_ENABLED = False
    before = scrape()
    api_client.get("/api/v1/health/live/")
    assert value(scrape(), REQUESTS) == value(before, REQUESTS)


def test_model_cache_hits_and_misses_are_sampled(api_client, create_storage):
    create_storage(dogs_definition())
    before = scrape()
    api_client.get("/api/v1/storage/dogs/")
    api_client.get("/api/v1/storage/dogs/")
    after = scrape()
    name = "datastorage_model_cache_total"
    looked_up = sum(
        value(after, name, result=r) - value(before, name, result=r) for r in ("hit", "miss")
    )
    assert looked_up >= 2
    assert value(after, "datastorage_model_cache_entries") >= 1


def test_pending_versions_and_the_worker_heartbeat_are_read_from_the_database(create_storage):
    storage = create_storage(dogs_definition())
    StorageVersion.objects.filter(storage=storage).update(status=VersionStatus.PENDING)
    found = scrape()
    assert value(found, "datastorage_schema_versions", status="pending") == 1
    assert value(found, "datastorage_schema_versions", status="migrating") == 0
    assert value(found, "datastorage_worker_last_heartbeat_timestamp_seconds") == 0


def test_a_failed_schema_change_records_its_duration_and_time():
    before = scrape()
    metrics.schema_change_finished("failed", 2.0)
    after = scrape()
    name = "datastorage_schema_change_duration_seconds_count"
    assert value(after, name, outcome="failed") - value(before, name, outcome="failed") == 1
    assert value(after, "datastorage_schema_change_last_failure_timestamp_seconds") > 0


def test_a_failing_sampler_never_fails_the_request(anonymous_client, monkeypatch):
    def broken() -> None:
        raise RuntimeError("no stats today")

    monkeypatch.setattr(metrics, "_samplers", [broken])
    monkeypatch.setitem(metrics._sampled, "at", 0.0)
    assert anonymous_client.get("/api/v1/health/live/").status_code == 200
