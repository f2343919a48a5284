"""A partitioned storage (factory.schema.partitions) through the records API: writes land
in the partition of their interval (UTC), values outside every partition in the default
one (reported by ready_status, moved when their partition is made), every records
operation works, and schema changes build their indexes partition by partition."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection

from factory.models import StorageDefinition
from factory.schema.partitioning import interval_start, next_start
from factory.services.partitions import partitions_maintain

pytestmark = pytest.mark.postgresql

RECORDS = "/api/v1/storage/events/"
READY = "/api/v1/factory/ready_status/events/"
UTC = datetime.UTC


def make_events(create_storage, interval: str = "day", field_type: str = "datetime", **more):
    definition = {
        "name": "events",
        "fields": [
            {"name": "at", "type": field_type, "required": True},
            {"name": "n", "type": "integer", "min": 0},
        ],
        "indexes": [{"fields": ["n"]}, {"fields": ["n", "at"], "unique": True}],
        "partition": {"field": "at", "interval": interval},
        **more,
    }
    return create_storage(definition)


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=UTC)


def post(api_client, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = api_client.post(RECORDS, items, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def partition_of(key: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM ds_events WHERE id = %s", [key])
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_writes_across_a_boundary_land_in_the_partition_of_their_interval(
    api_client, create_storage, interval
):
    make_events(create_storage, interval)
    now = datetime.datetime.now(UTC)
    boundary = midnight(next_start(interval_start(now, interval), interval))
    before, after = post(
        api_client,
        [
            {"at": iso(boundary - datetime.timedelta(microseconds=1)), "n": 1},
            {"at": iso(boundary), "n": 2},
        ],
    )
    previous = interval_start(now, interval)
    assert partition_of(before["id"]) == f"ds_events_p{previous:%Y%m%d}"
    assert partition_of(after["id"]) == f"ds_events_p{boundary:%Y%m%d}"
    status = api_client.get(READY).json()["partitions"]
    assert status == {
        "field": "at",
        "interval": interval,
        "partitions": 4,  # the current interval and PARTITIONS_AHEAD (3) more
        "start": previous.isoformat(),
        "end": status["end"],
        "default_rows": 0,
    }


@pytest.mark.django_db
def test_a_date_field_partitions_by_its_day(api_client, create_storage):
    make_events(create_storage, "month", field_type="date")
    today = datetime.datetime.now(UTC).date()
    (record,) = post(api_client, [{"at": today.isoformat()}])
    assert partition_of(record["id"]) == f"ds_events_p{interval_start(today, 'month'):%Y%m%d}"


@pytest.mark.django_db(transaction=True)
def test_far_future_and_past_go_to_the_default_partition_and_move_when_theirs_is_made(
    api_client, create_storage
):
    make_events(create_storage, "month")
    future, past = post(
        api_client,
        [{"at": "2999-01-15T10:00:00Z", "n": 1}, {"at": "1990-06-01T00:00:00Z", "n": 2}],
    )
    assert {partition_of(future["id"]), partition_of(past["id"])} == {"ds_events_default"}
    assert api_client.get(READY).json()["partitions"]["default_rows"] == 2
    after = api_client.get(f"{RECORDS}changes/").json()["next"]

    storage = StorageDefinition.objects.get(name="events")
    version = storage.versions.get(number=1)
    added = partitions_maintain(version=version, now=datetime.datetime(2999, 1, 2, tzinfo=UTC))

    assert added == [f"ds_events_p2999{month:02d}01" for month in (1, 2, 3, 4)]
    assert partition_of(future["id"]) == "ds_events_p29990101"
    assert api_client.get(READY).json()["partitions"]["default_rows"] == 1
    moved = api_client.get(f"{RECORDS}{future['id']}/").json()
    assert moved == future  # the same record, the same version
    # A move is no change: the feed has nothing new, no tombstone above all.
    assert (
        api_client.get(f"{RECORDS}changes/", {"after": after.split("after=")[1]}).json()["results"]
        == []
    )


@pytest.mark.django_db(transaction=True)
def test_every_records_operation_works_on_a_partitioned_storage(api_client, create_storage):
    make_events(create_storage, "day")
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    tomorrow = now + datetime.timedelta(days=1)
    one = post(api_client, {"at": iso(now), "n": 1})
    many = post(api_client, [{"at": iso(tomorrow), "n": n} for n in range(2, 7)])
    keys = [one["id"], *(record["id"] for record in many)]
    assert keys == sorted(keys)
    assert len(set(keys)) == 6
    refused = api_client.post(RECORDS, {"id": 99, "at": iso(now)}, format="json")
    assert refused.json()["errors"] == {
        "id": ["This key is generated by the server; leave it out."]
    }
    duplicate = api_client.post(RECORDS, {"at": iso(tomorrow), "n": 2}, format="json")
    assert duplicate.status_code == 409

    assert api_client.get(f"{RECORDS}{one['id']}/").json() == one
    page = api_client.get(RECORDS, {"n__gte": 2, "limit": 2, "ordering": "-n"}).json()
    assert [record["n"] for record in page["results"]] == [6, 5]
    second = api_client.get(page["next"]).json()
    assert [record["n"] for record in second["results"]] == [4, 3]

    stale = api_client.patch(
        f"{RECORDS}{one['id']}/", {"n": 10}, format="json", HTTP_IF_MATCH='"999"'
    )
    assert stale.status_code == 412
    etag = f'"{one["_version"]}"'
    patched = api_client.patch(
        f"{RECORDS}{one['id']}/", {"n": 10}, format="json", HTTP_IF_MATCH=etag
    )
    assert patched.status_code == 200
    assert patched.json()["n"] == 10
    # A PUT may move a record to another partition: same key, still one record.
    put = api_client.put(
        f"{RECORDS}{one['id']}/",
        {"at": iso(tomorrow), "n": 11},
        format="json",
        HTTP_IF_MATCH=patched["ETag"],
    )
    assert put.status_code == 200, put.content
    assert partition_of(one["id"]) == f"ds_events_p{tomorrow:%Y%m%d}"
    deleted = api_client.delete(
        f"{RECORDS}{many[0]['id']}/", HTTP_IF_MATCH=f'"{many[0]["_version"]}"'
    )
    assert deleted.status_code == 204

    feed = api_client.get(f"{RECORDS}changes/", {"limit": 100}).json()["results"]
    gone = [entry for entry in feed if entry.get("_deleted")]
    assert [(entry["id"], entry["_version"]) for entry in gone] == [
        (many[0]["id"], many[0]["_version"])
    ]
    assert sorted(entry["id"] for entry in feed if not entry.get("_deleted")) == [
        one["id"],
        *(record["id"] for record in many[1:]),
    ]
    assert api_client.get(RECORDS, {"count": "exact"}).json()["count"] == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("resolution", "ops"),
    [
        ("merge-duplicates", ["updated", "created", "updated", "unchanged"]),
        ("ignore-duplicates", ["skipped", "created", "skipped", "skipped"]),
    ],
)
def test_an_upsert_by_a_unique_index_with_the_partition_field_tells_created_from_updated(
    api_client, create_storage, resolution, ops
):
    """PostgreSQL refuses `xmax` in a partitioned table's RETURNING (it was a 500)."""
    create_storage(
        {
            "name": "events",
            "fields": [
                {"name": "at", "type": "datetime", "required": True},
                {"name": "n", "type": "integer", "required": True},
                {"name": "note", "type": "text", "nullable": True},
            ],
            "indexes": [{"fields": ["n", "at"], "unique": True}],
            "partition": {"field": "at", "interval": "day"},
        }
    )
    at = iso(datetime.datetime.now(UTC).replace(microsecond=0))
    stored = post(api_client, [{"at": at, "n": 1}])[0]
    items = [
        {"at": at, "n": 1, "note": "a"},
        {"at": at, "n": 2, "note": "b"},
        {"at": at, "n": 2, "note": "c"},  # written by the request's second round
        {"at": at, "n": 2, "note": "c"},
    ]

    response = api_client.post(
        f"{RECORDS}?on_conflict=n,at", items, format="json", HTTP_PREFER=f"resolution={resolution}"
    )

    assert response.status_code == 200, response.content
    results = response.json()
    assert [record["_op"] for record in results] == ops
    assert results[0]["id"] == stored["id"]
    assert len({record["id"] for record in results[1:]}) == 1
    assert api_client.get(RECORDS, {"count": "exact"}).json()["count"] == 2


def valid_indexes() -> dict[str, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid WHERE i.indrelid = 'ds_events'::regclass"
        )
        return dict(cursor.fetchall())


def attached(index: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", [index])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_schema_change_adds_a_field_and_indexes_partition_by_partition(
    api_client, create_storage
):
    make_events(create_storage, "day")
    now = datetime.datetime.now(UTC)
    post(api_client, [{"at": iso(now), "n": 1}, {"at": "2999-01-01T00:00:00Z", "n": 2}])
    definition = api_client.get("/api/v1/factory/storage/events/").json()
    new = {key: definition[key] for key in ("name", "primary_key", "indexes", "partition")}
    new["fields"] = [
        {"name": "at", "type": "datetime", "required": True},
        {"name": "n", "type": "integer", "min": -5},  # CHECK NOT VALID, then VALIDATE
        {"name": "kind", "type": "text", "max_length": 20, "default": "plain"},
    ]
    new["indexes"] = [
        {"fields": ["kind", "at"], "unique": True},  # built on each partition, attached
        {"fields": ["kind"], "type": "hash"},
    ]  # the two of version 1 dropped
    response = api_client.put(
        "/api/v1/factory/storage/events/", new, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 202, response.content

    status = api_client.get(READY).json()
    assert (status["status"], status["serving_version"]) == ("ready", 2), status
    later = iso(now + datetime.timedelta(seconds=1))
    assert api_client.post(RECORDS, {"at": later, "n": -3}, format="json").status_code == 201
    duplicate = api_client.post(RECORDS, {"at": later, "n": 0}, format="json")
    assert duplicate.status_code == 409  # (kind, at) unique on every partition
    listed = api_client.get(RECORDS, {"kind": "plain"}).json()["results"]
    assert len(listed) == 3  # old rows have the default
    indexes = valid_indexes()
    assert all(indexes.values()), indexes
    names = [name for name in indexes if name.startswith(("dsx_", "dsu_"))]
    assert len(names) == 2  # version 1's two went, version 2's two came
    assert all(attached(name) == 5 for name in names)  # 4 dated partitions and the default
