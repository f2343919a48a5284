"""POST with Prefer: resolution=merge-duplicates or ignore-duplicates: insert or merge by the
primary key or a unique index, stale items skipped by keep_newer, all or nothing."""

from __future__ import annotations

import pytest

from core.testing import storage_db
from storage.runtime import runtime_for

pytestmark = storage_db

CATS = "/api/v1/storage/cats/"
MERGE = {"HTTP_PREFER": "resolution=merge-duplicates"}
IGNORE = {"HTTP_PREFER": "resolution=ignore-duplicates"}
SEEN = "2024-05-01T12:00:00Z"
LATER = "2024-05-02T12:00:00Z"
EARLIER = "2024-04-30T12:00:00Z"


@pytest.fixture
def cats(create_storage):
    """A natural text key, a unique index on (chip), a datetime and an integer to keep
    the newest by."""
    return create_storage(
        {
            "name": "cats",
            "primary_key": {"name": "tag", "type": "text"},
            "fields": [
                {"name": "name", "type": "text", "required": True},
                {"name": "age", "type": "integer", "default": 0},
                {"name": "chip", "type": "text", "nullable": True},
                {"name": "weight", "type": "decimal", "max_digits": 5, "decimal_places": 2},
                {"name": "seen_at", "type": "datetime", "nullable": True},
                {"name": "note", "type": "text", "nullable": True},
                {"name": "extra", "type": "json"},
            ],
            "indexes": [{"fields": ["chip"], "unique": True}],
        }
    )


def _cat(tag: str, **fields) -> dict:
    return {"tag": tag, "name": tag.title(), **fields}


def _stored(tag: str):
    return runtime_for("cats").model.objects.filter(tag=tag).values().first()


def test_a_new_record_is_created_201_with_location_and_op(api_client, cats):
    response = api_client.post(CATS, _cat("tom", age=3), format="json", **MERGE)

    assert response.status_code == 201
    assert response["Preference-Applied"] == "resolution=merge-duplicates"
    assert response["Location"] == "http://testserver/api/v1/storage/cats/tom/"
    body = response.json()
    assert body["_op"] == "created"
    assert response["ETag"] == f'"{body["_version"]}"'
    assert _stored("tom")["age"] == 3


def test_merge_changes_only_the_fields_sent(api_client, cats):
    api_client.post(CATS, _cat("tom", age=3, note="shy", chip="c1"), format="json")

    response = api_client.post(
        CATS, {"tag": "tom", "name": "Tom", "age": 4}, format="json", **MERGE
    )

    assert response.status_code == 200
    body = response.json()
    assert body["_op"] == "updated"
    assert (body["age"], body["note"], body["chip"]) == (4, "shy", "c1")
    assert "Location" not in response


def test_an_unchanged_record_keeps_version_and_updated_at(api_client, cats):
    created = api_client.post(CATS, _cat("tom", age=3, extra={"a": [1]}), format="json").json()

    response = api_client.post(CATS, _cat("tom", age=3, extra={"a": [1]}), format="json", **MERGE)

    assert response.status_code == 200
    body = response.json()
    assert body["_op"] == "unchanged"
    assert body["_version"] == created["_version"]
    assert body["_updated_at"] == created["_updated_at"]
    stored = _stored("tom")
    assert stored["_version"] == created["_version"]


def test_ignore_duplicates_skips_stored_records(api_client, cats):
    api_client.post(CATS, _cat("tom", age=3), format="json")

    response = api_client.post(
        CATS, [_cat("tom", age=9), _cat("ann", age=1)], format="json", **IGNORE
    )

    assert response.status_code == 200
    assert response["Preference-Applied"] == "resolution=ignore-duplicates"
    assert [(r["tag"], r["_op"], r["age"]) for r in response.json()] == [
        ("tom", "skipped", 3),
        ("ann", "created", 1),
    ]
    assert _stored("tom")["age"] == 3


def test_keep_newer_skips_stale_items(api_client, cats):
    api_client.post(CATS, _cat("tom", age=3, seen_at=SEEN), format="json")
    url = f"{CATS}?keep_newer=seen_at"

    stale = api_client.post(url, _cat("tom", age=1, seen_at=EARLIER), format="json", **MERGE)
    newer = api_client.post(url, _cat("tom", age=5, seen_at=LATER), format="json", **MERGE)

    assert (stale.status_code, stale.json()["_op"], stale.json()["age"]) == (200, "stale", 3)
    assert (newer.json()["_op"], newer.json()["age"]) == ("updated", 5)
    assert _stored("tom")["age"] == 5


def test_a_bulk_reports_each_item_in_order(api_client, cats):
    api_client.post(
        CATS, [_cat("a", age=1, seen_at=SEEN), _cat("b", age=2, seen_at=SEEN)], format="json"
    )
    items = [
        _cat("a", age=1, seen_at=SEEN),  # unchanged
        _cat("b", age=7, seen_at=EARLIER),  # stale
        _cat("c", age=3, seen_at=SEEN),  # created
        _cat("a", age=8, seen_at=LATER),  # the same key again, later: updated
    ]

    response = api_client.post(f"{CATS}?keep_newer=seen_at", items, format="json", **MERGE)

    assert response.status_code == 200
    assert [(r["tag"], r["_op"], r["age"]) for r in response.json()] == [
        ("a", "unchanged", 1),
        ("b", "stale", 2),
        ("c", "created", 3),
        ("a", "updated", 8),
    ]
    assert _stored("a")["age"] == 8


def test_a_bulk_of_new_records_only_answers_201(api_client, cats):
    response = api_client.post(CATS, [_cat("a"), _cat("b")], format="json", **MERGE)

    assert response.status_code == 201
    assert [r["_op"] for r in response.json()] == ["created", "created"]


def test_on_conflict_by_a_unique_index(api_client, cats):
    api_client.post(CATS, _cat("tom", chip="c1", age=1), format="json")

    response = api_client.post(
        f"{CATS}?on_conflict=chip",
        {"tag": "other", "name": "Tom", "chip": "c1", "age": 2},
        format="json",
        **MERGE,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["tag"], body["age"], body["_op"]) == ("tom", 2, "updated")
    assert _stored("other") is None


def test_a_bulk_with_one_invalid_item_writes_nothing(api_client, cats):
    response = api_client.post(
        CATS, [_cat("a"), _cat("b", age="old"), _cat("c")], format="json", **MERGE
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "1.age": ["Must be an integer (a JSON number without a fraction)."]
    }
    assert runtime_for("cats").model.objects.count() == 0


def test_a_clash_on_another_unique_index_is_409_naming_item_and_fields(api_client, cats):
    api_client.post(CATS, _cat("tom", chip="c1"), format="json")

    response = api_client.post(
        CATS, [_cat("ann", chip="c2"), _cat("bob", chip="c1")], format="json", **MERGE
    )

    assert response.status_code == 409
    body = response.json()
    assert (body["type"], body["fields"], body["item"]) == ("unique-violation", ["chip"], 1)
    assert _stored("ann") is None


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("on_conflict=colour", {"on_conflict": ["Unknown field 'colour'."]}),
        ("on_conflict=", {"on_conflict": ["Unknown field ''."]}),
        (
            "on_conflict=name",
            {
                "on_conflict": [
                    "No unique index on (name): name the primary key or the fields of a "
                    "unique index of this storage."
                ]
            },
        ),
        (
            "keep_newer=note",
            {
                "keep_newer": [
                    "'note' is a text field; keep_newer takes a field of type date, datetime, "
                    "integer, decimal."
                ]
            },
        ),
        ("keep_newer=nope", {"keep_newer": ["Unknown field 'nope'."]}),
    ],
)
def test_hostile_upsert_parameters_answer_400_and_write_nothing(api_client, cats, query, errors):
    response = api_client.post(f"{CATS}?{query}", _cat("tom"), format="json", **MERGE)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == errors
    assert _stored("tom") is None


def test_upsert_parameters_without_a_resolution_answer_400(api_client, cats):
    response = api_client.post(f"{CATS}?on_conflict=tag", _cat("tom"), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "on_conflict": ["Only with Prefer: resolution=merge-duplicates or ignore-duplicates."]
    }


def test_an_unknown_resolution_answers_400(api_client, cats):
    response = api_client.post(
        CATS, _cat("tom"), format="json", HTTP_PREFER="return=minimal, resolution=replace"
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["Prefer"]


def test_an_empty_array_answers_201_and_writes_nothing(api_client, cats):
    response = api_client.post(CATS, [], format="json", **MERGE)

    assert (response.status_code, response.json()) == (201, [])


def test_items_need_the_conflict_and_keep_newer_fields(api_client, cats):
    response = api_client.post(
        f"{CATS}?on_conflict=chip&keep_newer=seen_at",
        [_cat("a", chip="x"), _cat("b", seen_at=SEEN)],
        format="json",
        **MERGE,
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "0.seen_at": ["An upsert needs this field, with a value."],
        "1.chip": ["An upsert needs this field, with a value."],
    }


def test_a_serial_key_needs_a_unique_index_to_match_by(api_client, dogs):
    response = api_client.post(
        "/api/v1/storage/dogs/",
        {"name": "Rex", "registered_at": SEEN},
        format="json",
        **MERGE,
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["on_conflict"]


def test_a_write_only_token_is_answered_key_version_and_op(client, cats):
    from access.services import token_issue

    secret = token_issue(name="w", grants=[{"storage": "cats", "access": ["write"]}]).secret

    response = client.post(
        CATS,
        _cat("tom"),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        **MERGE,
    )

    assert response.status_code == 201
    assert set(response.json()) == {"tag", "_version", "_op"}


def test_a_read_only_token_is_refused_403(client, cats):
    from access.services import token_issue

    secret = token_issue(name="r", grants=[{"storage": "cats", "access": ["read"]}]).secret

    response = client.post(
        CATS,
        _cat("tom"),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        **MERGE,
    )

    assert response.status_code == 403
    assert _stored("tom") is None


def test_idempotency_key_replays_the_first_answer(api_client, cats):
    first = api_client.post(CATS, [_cat("a")], format="json", HTTP_IDEMPOTENCY_KEY="k1", **MERGE)
    again = api_client.post(CATS, [_cat("a")], format="json", HTTP_IDEMPOTENCY_KEY="k1", **MERGE)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Preference-Applied"] == "resolution=merge-duplicates"
