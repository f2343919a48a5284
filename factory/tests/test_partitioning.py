"""The definition's `partition` block (factory.schema.partitioning): every refusal, before
anything is created, at creation and in new versions; and the calendar of partitions."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from factory.models import StorageDefinition
from factory.schema.partitioning import interval_start, next_start, starts_ahead

STORAGES = "/api/v1/factory/storage/"


def events(**changes: Any) -> dict[str, Any]:
    definition = {
        "name": "events",
        "fields": [
            {"name": "at", "type": "datetime", "required": True},
            {"name": "day", "type": "date", "required": True},
            {"name": "kind", "type": "text", "nullable": True},
            {"name": "loose", "type": "datetime"},
            {"name": "total", "type": "integer", "required": True},
        ],
        "partition": {"field": "at", "interval": "day"},
    }
    return {**definition, **changes}


def refused(api_client, definition: dict[str, Any]) -> dict[str, list[str]]:
    response = api_client.post(STORAGES, definition, format="json")
    assert response.status_code == 400, response.content
    assert not StorageDefinition.objects.filter(name=definition["name"]).exists()
    return response.json()["errors"]


@pytest.mark.sqlite
@pytest.mark.django_db
def test_partition_on_sqlite_answers_400_saying_it_needs_postgresql(api_client):
    assert refused(api_client, events()) == {
        "partition": ["partitioned storages need PostgreSQL; this service runs on sqlite"]
    }


@pytest.mark.parametrize("key_type", ["uuid", "integer", "text"])
@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_key_other_than_serial_is_refused_and_why(api_client, key_type):
    errors = refused(api_client, events(primary_key={"name": "id", "type": key_type}))
    assert list(errors) == ["primary_key.type"]
    assert errors["primary_key.type"][0].startswith(
        f"a partitioned storage needs a serial key, not {key_type}: PostgreSQL enforces "
        "uniqueness on a partitioned table only together with the partition field"
    )


@pytest.mark.parametrize(
    ("partition", "path", "message"),
    [
        (
            {"field": "kind", "interval": "day"},
            "partition.field",
            "'kind' is of type text; a table is partitioned by a date or datetime field.",
        ),
        (
            {"field": "loose", "interval": "day"},
            "partition.field",
            "'loose' must be required and not nullable: every record needs a value to find "
            "its partition by.",
        ),
        (
            {"field": "nope", "interval": "day"},
            "partition.field",
            "Unknown field 'nope'.",
        ),
        (
            {"field": "_updated_at", "interval": "day"},
            "partition.field",
            "Unknown field '_updated_at' (of the system fields, only _created_at).",
        ),
        (
            {"field": "at", "interval": "year"},
            "partition.interval",
            "must be one of day, week, month; got 'year'",
        ),
        ({"interval": "day"}, "partition.field", "This field is required."),
        ({"field": "at", "every": 1}, "partition.every", "unknown key"),
        ("at", "partition", "must be an object with 'field' and 'interval'"),
    ],
)
@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_bad_partition_block_is_refused_naming_the_problem(api_client, partition, path, message):
    errors = refused(api_client, events(partition=partition))
    assert message in errors[path]


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_nullable_required_field_is_refused_too(api_client):
    fields = [{"name": "at", "type": "datetime", "required": True, "nullable": True}]
    errors = refused(api_client, events(fields=fields))
    assert list(errors) == ["partition.field"]


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_unique_index_without_the_partition_field_is_refused(api_client):
    indexes = [{"fields": ["kind", "at"], "unique": True}, {"fields": ["total"], "unique": True}]
    errors = refused(api_client, events(indexes=indexes))
    assert errors == {
        "indexes.1.fields": [
            "a unique index of a storage partitioned by 'at' must contain 'at': PostgreSQL "
            "cannot enforce uniqueness across partitions otherwise."
        ]
    }


@pytest.mark.postgresql
@pytest.mark.django_db
def test_created_at_and_date_fields_partition_and_the_block_is_shown(api_client):
    by_created = events(name="by_created", partition={"field": "_created_at", "interval": "week"})
    assert api_client.post(STORAGES, by_created, format="json").status_code == 201
    by_day = events(name="by_day", partition={"field": "day", "interval": "month"})
    by_day["indexes"] = [{"fields": ["total", "day"], "unique": True}]
    assert api_client.post(STORAGES, by_day, format="json").status_code == 201
    shown = api_client.get(f"{STORAGES}by_day/").json()["partition"]
    assert shown == {"field": "day", "interval": "month"}
    assert api_client.get(f"{STORAGES}by_created/").json()["partition"]["field"] == "_created_at"


def put(api_client, definition: dict[str, Any]):
    return api_client.put(
        f"{STORAGES}{definition['name']}/", definition, format="json", HTTP_IF_MATCH='"1"'
    )


@pytest.mark.parametrize(
    "partition",
    [None, {"field": "at", "interval": "week"}, {"field": "day", "interval": "day"}],
)
@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_version_may_not_add_remove_or_change_partitioning(api_client, create_storage, partition):
    create_storage(events())
    changed = events()
    if partition is None:
        del changed["partition"]
    else:
        changed["partition"] = partition
    response = put(api_client, changed)
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "partition": [
            "partitioning is set when a storage is created and cannot be added, removed or "
            "changed by a new version; create another storage and copy the records over"
        ]
    }


@pytest.mark.postgresql
@pytest.mark.django_db
def test_partitioning_cannot_be_added_to_a_storage_that_has_none(api_client, create_storage):
    plain = events()
    del plain["partition"]
    create_storage(plain)
    assert put(api_client, events()).json()["errors"].keys() == {"partition"}


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_version_adding_a_unique_index_without_the_field_is_refused(api_client, create_storage):
    create_storage(events())
    response = put(api_client, events(indexes=[{"fields": ["total"], "unique": True}]))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["indexes.0.fields"]


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_version_may_not_make_the_partition_field_nullable(api_client, create_storage):
    create_storage(events())
    loosened = events()
    loosened["fields"] = [{"name": "at", "type": "datetime"}, *loosened["fields"][1:]]
    response = put(api_client, loosened)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["partition.field"]


# --- The calendar (UTC) -----------------------------------------------------------------


def test_intervals_start_on_the_day_the_monday_and_the_first_of_the_month_in_utc():
    # 2026-03-01 23:30 at UTC-2 is 2026-03-02 01:30 UTC, a Monday.
    moment = datetime.datetime(
        2026, 3, 1, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-2))
    )
    assert interval_start(moment, "day") == datetime.date(2026, 3, 2)
    assert interval_start(moment, "week") == datetime.date(2026, 3, 2)
    assert interval_start(datetime.date(2026, 3, 8), "week") == datetime.date(2026, 3, 2)
    assert interval_start(moment, "month") == datetime.date(2026, 3, 1)


def test_the_next_interval_crosses_months_and_years():
    assert next_start(datetime.date(2026, 2, 28), "day") == datetime.date(2026, 3, 1)
    assert next_start(datetime.date(2026, 12, 28), "week") == datetime.date(2027, 1, 4)
    assert next_start(datetime.date(2026, 12, 1), "month") == datetime.date(2027, 1, 1)
    now = datetime.datetime(2026, 11, 15, tzinfo=datetime.UTC)
    assert starts_ahead(now, "month", 2) == [
        datetime.date(2026, 11, 1),
        datetime.date(2026, 12, 1),
        datetime.date(2027, 1, 1),
    ]
