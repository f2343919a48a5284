"""POST a JSON array: bulk create, all or nothing (one COPY on PostgreSQL, multi-row INSERTs
on SQLite)."""

from __future__ import annotations

import dataclasses
import gc
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.testing import storage_db
from storage.runtime import runtime_for
from storage.services import record_bulk_insert

pytestmark = storage_db

DOGS = "/api/v1/storage/dogs/"
PROBLEM = "application/problem+json"
REGISTERED = "2024-05-01T12:00:00Z"


def _dog(name: str, **fields) -> dict:
    return {"name": name, "registered_at": REGISTERED, **fields}


def test_bulk_create_answers_201_with_the_records_in_order(api_client, dogs, dog_count):
    items = [_dog("Rex", age=3), _dog("Bella", weight_kg="8.5"), _dog("Max", breed="pug")]

    response = api_client.post(DOGS, items, format="json")

    assert response.status_code == 201
    body = response.json()
    assert [record["name"] for record in body] == ["Rex", "Bella", "Max"]
    ids = [record["id"] for record in body]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    stamp = body[0]["_created_at"]
    assert body[1] == {
        "id": ids[1],
        "name": "Bella",
        "breed": None,
        "age": 0,
        "weight_kg": "8.50",
        "vaccinated": False,
        "born": None,
        "registered_at": REGISTERED,
        "chip": None,
        "size": None,
        "extra": None,
        "_version": 2,  # drawn from the storage's counter, in order (the first record's 1)
        "_created_at": stamp,
        "_updated_at": stamp,
    }
    assert [record["_version"] for record in body] == [1, 2, 3]
    assert dog_count() == 3
    for record in body:
        assert api_client.get(f"{DOGS}{record['id']}/").json() == record


def test_bulk_create_of_an_empty_list_answers_201_with_an_empty_list(api_client, dogs, dog_count):
    response = api_client.post(DOGS, [], format="json")

    assert response.status_code == 201
    assert response.json() == []
    assert dog_count() == 0


def test_bulk_with_invalid_items_answers_400_keyed_by_item_and_writes_nothing(
    api_client, dogs, dog_count
):
    items = [
        _dog("Rex"),
        _dog("Bella", size="huge"),
        _dog("Max"),
        _dog("Bo", age="3"),
        {"registered_at": REGISTERED, "colour": "red"},
    ]

    response = api_client.post(DOGS, items, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": "Some items are invalid; nothing was written.",
        "errors": {
            "1.size": ["'huge' is not one of the choices ['small', 'medium', 'large']."],
            "3.age": ["Must be an integer (a JSON number without a fraction)."],
            "4.colour": ["Unknown field."],
            "4.name": ["This field is required."],
        },
    }
    assert dog_count() == 0


def test_bulk_item_that_is_not_an_object_is_named_by_its_index(api_client, dogs, dog_count):
    response = api_client.post(DOGS, [_dog("Rex"), "Bella", [1]], format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "1.non_field_errors": ["A record must be a JSON object."],
        "2.non_field_errors": ["A record must be a JSON object."],
    }
    assert dog_count() == 0


def test_bulk_over_the_item_limit_answers_413_and_writes_nothing(
    api_client, dogs, dog_count, settings
):
    settings.MAX_BULK_ITEMS = 3

    response = api_client.post(DOGS, [_dog(f"dog {n}") for n in range(4)], format="json")

    assert response.status_code == 413
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "payload-too-large",
        "title": "Payload too large",
        "status": 413,
        "detail": "A bulk create takes at most 3 items; got 4.",
    }
    assert dog_count() == 0


def test_bulk_at_the_item_limit_is_accepted(api_client, dogs, dog_count, settings):
    settings.MAX_BULK_ITEMS = 3

    response = api_client.post(DOGS, [_dog(f"dog {n}") for n in range(3)], format="json")

    assert response.status_code == 201
    assert dog_count() == 3


def test_default_bulk_limit_is_ten_thousand(settings):
    assert settings.MAX_BULK_ITEMS == 10_000


def test_bulk_breaking_a_unique_index_against_stored_rows_answers_409_naming_the_item(
    api_client, add_dog, dog_count
):
    add_dog(name="Rex", born="2020-01-01")
    items = [_dog("Bella", born="2020-01-01"), _dog("Rex", born="2020-01-01"), _dog("Max")]

    response = api_client.post(DOGS, items, format="json")

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "unique-violation",
        "title": "Unique constraint violated",
        "status": 409,
        "detail": "Another record already has the same name, born.",
        "fields": ["name", "born"],
        "item": 1,
    }
    assert dog_count() == 1


def test_bulk_breaking_a_unique_index_within_itself_names_the_second_item(
    api_client, dogs, dog_count
):
    items = [_dog("Rex", born="2021-01-01"), _dog("Max"), _dog("Rex", born="2021-01-01")]

    response = api_client.post(DOGS, items, format="json")

    assert response.status_code == 409
    assert response.json()["fields"] == ["name", "born"]
    assert response.json()["item"] == 2
    assert dog_count() == 0


def test_bulk_duplicate_natural_key_answers_409_naming_key_and_item(api_client, create_storage):
    create_storage(
        {
            "name": "breeds",
            "primary_key": {"name": "code", "type": "text"},
            "fields": [{"name": "label", "type": "text"}],
        }
    )
    url = "/api/v1/storage/breeds/"
    items = [{"code": "pug", "label": "Pug"}, {"code": "pug", "label": "Pug again"}]

    response = api_client.post(url, items, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "type": "unique-violation",
        "title": "Unique constraint violated",
        "status": 409,
        "detail": "Another record already has the same code.",
        "fields": ["code"],
        "item": 1,
    }
    assert api_client.get(url).json()["results"] == []


def test_bulk_insert_costs_the_same_number_of_queries_for_5_or_60_items(api_client, dogs):
    api_client.get(DOGS)  # compile and cache the storage's runtime first

    def queries_for(count: int, prefix: str) -> int:
        items = [_dog(f"{prefix}{n}") for n in range(count)]
        with CaptureQueriesContext(connection) as captured:
            response = api_client.post(DOGS, items, format="json")
        assert response.status_code == 201
        return len(captured.captured_queries)

    assert queries_for(5, "a") == queries_for(60, "b")


# --- what the COPY path (PostgreSQL) must keep: exact values, keys, constraints, rollback ---

SAMPLES = "/api/v1/storage/samples/"
CHIP = "0B5A2D2E-8C1F-4E57-9A52-1F1F0D5F6C11"


@pytest.fixture
def samples(create_storage):
    """One field of every type, with the values a COPY could get wrong."""
    return create_storage(
        {
            "name": "samples",
            "fields": [
                {"name": "label", "type": "text", "max_length": 40},
                {"name": "body", "type": "text"},
                {"name": "amount", "type": "integer"},
                {"name": "ratio", "type": "float"},
                {"name": "price", "type": "decimal", "max_digits": 12, "decimal_places": 4},
                {"name": "flag", "type": "boolean"},
                {"name": "day", "type": "date"},
                {"name": "at", "type": "datetime"},
                {"name": "chip", "type": "uuid"},
                {"name": "doc", "type": "json"},
            ],
        }
    )


SAMPLE_ITEMS = [
    {
        "label": "tab\tnewline\nbackslash\\ quote' \"",
        "body": "ünïcødé ✓ 🐕 \r\n\\N",
        "amount": -(2**63),
        "ratio": 0.1,
        "price": "-12345678.5",
        "flag": True,
        "day": "0001-01-01",
        "at": "2024-05-01T12:00:00.123456+05:30",
        "chip": CHIP,
        "doc": {"nested": [1, 2.5, None, True, "x\ty"], "ü": {"deep": "\\N"}},
    },
    {
        "label": "",
        "body": "\\",
        "amount": 2**63 - 1,
        "ratio": -1.7976931348623157e308,
        "price": 0,
        "flag": False,
        "day": "9999-12-31",
        "at": "9999-12-31T23:59:59.999999Z",
        "chip": CHIP.lower(),
        "doc": "a JSON string, not an object",
    },
    {"doc": 12345678901234567890},
    {"doc": None},
    {"doc": [None]},
]


def test_bulk_answers_exactly_what_was_stored_for_every_field_type(api_client, samples):
    response = api_client.post(SAMPLES, SAMPLE_ITEMS, format="json")

    assert response.status_code == 201
    body = response.json()
    first, second = body[0], body[1]
    assert first["at"] == "2024-05-01T06:30:00.123456Z"
    assert first["price"] == "-12345678.5000"
    assert first["chip"] == second["chip"] == CHIP.lower()
    assert second["price"] == "0.0000"
    assert second["doc"] == "a JSON string, not an object"
    assert [record["doc"] for record in body[2:]] == [12345678901234567890, None, [None]]
    for record in body:
        assert api_client.get(f"{SAMPLES}{record['id']}/").json() == record
    assert api_client.get(SAMPLES).json()["results"] == body


@pytest.mark.postgresql
def test_bulk_stores_json_as_jsonb_and_a_json_null_as_sql_null(api_client, samples):
    response = api_client.post(SAMPLES, SAMPLE_ITEMS, format="json")

    assert response.status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT jsonb_typeof(doc), doc IS NULL FROM ds_samples ORDER BY id")
        stored = cursor.fetchall()
    assert stored == [
        ("object", False),
        ("string", False),
        ("number", False),
        (None, True),
        ("array", False),
    ]


def test_bulk_keys_keep_increasing_so_later_creates_do_not_collide(api_client, dogs, dog_count):
    first = api_client.post(DOGS, [_dog(f"a{n}") for n in range(3)], format="json").json()
    single = api_client.post(DOGS, _dog("single"), format="json")
    second = api_client.post(DOGS, [_dog(f"b{n}") for n in range(3)], format="json").json()

    assert single.status_code == 201
    ids = [record["id"] for record in first] + [single.json()["id"]]
    ids += [record["id"] for record in second]
    assert ids == sorted(ids)
    assert len(set(ids)) == 7
    assert dog_count() == 7


def test_bulk_into_a_uuid_keyed_storage_generates_the_keys_left_out(api_client, create_storage):
    create_storage(
        {
            "name": "tags",
            "primary_key": {"name": "tag", "type": "uuid"},
            "fields": [{"name": "label", "type": "text"}],
        }
    )
    items = [{"label": "mine", "tag": CHIP}, {"label": "server's"}]

    response = api_client.post("/api/v1/storage/tags/", items, format="json")

    assert response.status_code == 201
    mine, generated = response.json()
    assert mine["tag"] == CHIP.lower()
    assert uuid.UUID(generated["tag"]).version == 4
    for record in (mine, generated):
        assert api_client.get(f"/api/v1/storage/tags/{record['tag']}/").json() == record


def test_bulk_refused_by_a_database_check_answers_409_and_writes_nothing(
    api_client, dogs, dog_count
):
    # DRF takes "" for a text field with choices (a blank string skips its validators); the
    # table's CHECK (size IN (...)) refuses it.
    items = [_dog("Rex"), _dog("Bella", size="")]

    response = api_client.post(DOGS, items, format="json")

    assert response.status_code == 409
    assert response.json()["type"] == "unique-violation"
    assert response.json()["fields"] == []
    assert dog_count() == 0


def test_bulk_with_an_idempotency_key_that_conflicts_writes_nothing_and_keeps_the_key(
    api_client, add_dog, dog_count
):
    add_dog(name="Rex", born="2020-01-01")
    key = {"HTTP_IDEMPOTENCY_KEY": "bulk-1"}
    clash = [_dog("Bella"), _dog("Rex", born="2020-01-01")]

    refused = api_client.post(DOGS, clash, format="json", **key)
    accepted = api_client.post(DOGS, [_dog("Bella"), _dog("Max")], format="json", **key)
    replayed = api_client.post(DOGS, [_dog("Bella"), _dog("Max")], format="json", **key)

    assert refused.status_code == 409
    assert refused.json()["item"] == 1
    assert accepted.status_code == 201
    assert replayed.status_code == 201
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.json() == accepted.json()
    assert dog_count() == 3


@pytest.mark.postgresql
def test_a_statement_timeout_during_the_copy_answers_503_and_writes_nothing(
    api_client, dogs, dog_count
):
    api_client.get(DOGS)  # compile the runtime before the timeout applies
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION slow_dog() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER slow BEFORE INSERT ON ds_dogs FOR EACH ROW EXECUTE FUNCTION slow_dog()"
        )
        cursor.execute("SET LOCAL statement_timeout = 100")

    response = api_client.post(DOGS, [_dog(f"dog {n}") for n in range(10)], format="json")

    assert response.status_code == 503
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
    assert dog_count() == 0


@pytest.mark.postgresql
def test_an_error_while_the_rows_stream_rolls_the_copy_back(dogs, dog_count):
    runtime = runtime_for("dogs")
    rows = [runtime.validator.for_create(_dog(f"dog {n}")) for n in range(5)]
    written = []

    def failing(row):
        if len(written) == 3:  # as a worker interrupted mid-request would
            raise KeyboardInterrupt
        written.append(row)
        return runtime.copy_insert.row_values(row)

    broken = dataclasses.replace(
        runtime, copy_insert=dataclasses.replace(runtime.copy_insert, row_values=failing)
    )

    with pytest.raises(KeyboardInterrupt):
        record_bulk_insert(runtime=broken, rows=rows, now=timezone.now())

    assert len(written) == 3
    assert dog_count() == 0
    record_bulk_insert(runtime=runtime, rows=rows[:2], now=timezone.now())
    assert dog_count() == 2


def test_the_request_after_a_bulk_runs_with_the_garbage_collector_whatever_the_answer(
    api_client, dogs
):
    """A bulk leaves resuming the collector to the next request (core.collector)."""
    created = api_client.post(DOGS, [_dog("Rex")], format="json")
    after_created = gc.isenabled()
    refused = api_client.post(DOGS, [_dog("Bella", age="3")], format="json")
    api_client.get("/api/v1/health/live/")

    assert (created.status_code, refused.status_code) == (201, 400)
    assert not after_created
    assert gc.isenabled()


def test_a_bulk_outside_a_request_resumes_the_collector_at_once(dogs):
    from storage.runtime import runtime_for
    from storage.services import record_bulk_create

    record_bulk_create(runtime=runtime_for("dogs"), items=[_dog("Rex"), _dog("Ida")])

    assert gc.isenabled()


def test_a_bulk_leaves_its_records_to_reference_counting(api_client, dogs):
    """DRF's request and response each sit in a reference cycle; the parsed items and the
    answered records must not wait in them for the collector (views._bulk_response)."""
    items = [_dog(f"dog-{n}", chip=f"00000000-0000-0000-0000-{n:012d}") for n in range(500)]
    gc.collect()
    response = api_client.post(DOGS, items, format="json")
    assert response.status_code == 201
    assert len(response.json()) == 500
    del response

    assert gc.collect() < 500  # before the fix: several objects per record
