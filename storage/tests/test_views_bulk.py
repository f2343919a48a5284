"""POST a JSON array: bulk create, all or nothing, in multi-row INSERTs."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.testing import storage_db

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
        "_version": 1,
        "_created_at": stamp,
        "_updated_at": stamp,
    }
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
