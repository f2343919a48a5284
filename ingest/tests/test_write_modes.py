"""A source's `write` (insert, upsert, ignore) and `delete` blocks: re-delivered events
update, stale ones are skipped, delete events remove their record, in event order."""

from __future__ import annotations

from typing import Any

import pytest

from core.testing import storage_db
from storage.runtime import runtime_for

pytestmark = storage_db

URL = "/api/v1/ingest/"
IS_CAT = {"path": "/species", "equals": "cat"}


@pytest.fixture
def cats(create_storage):
    def make(write: dict[str, Any] | None = None, delete: bool = True):
        source: dict[str, Any] = {
            "match": IS_CAT,
            "map": {"tag": "/tag", "name": "/name", "age": "/age", "seen": "/seq"},
        }
        if write is not None:
            source["write"] = write
        if delete:
            source["delete"] = {
                "match": {"all": [IS_CAT, {"path": "/op", "equals": "gone"}]},
                "key": "/tag",
            }
        return create_storage(
            {
                "name": "cats",
                "primary_key": {"name": "tag", "type": "text"},
                "fields": [
                    {"name": "name", "type": "text", "required": True},
                    {"name": "age", "type": "integer", "default": 0},
                    {"name": "seen", "type": "integer", "nullable": True},
                ],
                "source": source,
            }
        )

    return make


def cat(tag: str, seq: int = 1, **more: Any) -> dict[str, Any]:
    return {"species": "cat", "tag": tag, "name": tag.title(), "seq": seq, **more}


def stored() -> dict[str, tuple]:
    rows = runtime_for("cats").model.objects.values_list("tag", "age", "seen")
    return {tag: (age, seen) for tag, age, seen in rows}


def counts(body: dict, **expected: int) -> dict:
    base = dict.fromkeys(("written", "updated", "unchanged", "skipped", "stale", "deleted"), 0)
    return {**base, **expected}


def ingest(client, events: list) -> dict:
    response = client.post(URL, events, format="json")
    assert response.status_code == 200
    return response.json()["storages"]["cats"]


def test_upsert_updates_a_redelivered_event_and_skips_stale_ones(api_client, cats):
    cats({"mode": "upsert", "keep_newer": "seen"})
    ingest(api_client, [cat("tom", seq=2, age=3)])

    report = ingest(
        api_client,
        [cat("tom", seq=3, age=4), cat("tom", seq=1, age=9), cat("tom", seq=3, age=4), cat("amy")],
    )

    rejected = report.pop("rejected")
    assert (report, rejected) == (counts(report, written=2, updated=1, stale=1, unchanged=1), [])
    assert stored() == {"tom": (4, 3), "amy": (0, 1)}


def test_ignore_leaves_stored_records(api_client, cats):
    cats({"mode": "ignore"})
    ingest(api_client, [cat("tom", age=3)])

    report = ingest(api_client, [cat("tom", age=9)])

    assert report["skipped"] == 1
    assert stored() == {"tom": (3, 1)}


def test_insert_rejects_a_duplicate_event_alone(api_client, cats):
    cats()
    ingest(api_client, [cat("tom")])

    report = ingest(api_client, [cat("amy"), cat("tom"), cat("bob")])

    assert report["written"] == 2
    assert [item["event"] for item in report["rejected"]] == [1]
    assert report["rejected"][0]["errors"] == {
        "non_field_errors": ["Another record already has the same tag."]
    }


def test_delete_events_apply_in_their_place_among_the_writes(api_client, cats):
    cats({"mode": "upsert"})
    ingest(api_client, [cat("tom"), cat("amy")])

    report = ingest(
        api_client,
        [
            {"species": "cat", "op": "gone", "tag": "tom"},
            cat("tom", age=7),  # after its delete: created again
            {"species": "cat", "op": "gone", "tag": "amy"},
            {"species": "cat", "op": "gone", "tag": "nobody"},
            {"species": "cat", "op": "gone"},  # no key: rejected
        ],
    )

    assert report["deleted"] == 2
    assert report["written"] == 1
    assert report["rejected"] == [
        {"event": 4, "errors": {"tag": ["This delete event has no key at source.delete.key."]}}
    ]
    assert stored() == {"tom": (7, 1)}


def test_a_source_with_write_and_delete_is_validated_at_definition(api_client, create_storage):
    definition = {
        "name": "bad",
        "primary_key": {"name": "tag", "type": "text"},
        "fields": [{"name": "name", "type": "text"}, {"name": "age", "type": "integer"}],
        "source": {
            "match": IS_CAT,
            "map": {"tag": "/tag"},
            "write": {"mode": "upsert", "on": ["name"], "keep_newer": "name", "x": 1},
            "delete": {"match": {"path": "nope"}, "key": 5},
        },
    }

    response = api_client.post("/api/v1/factory/storage/", definition, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "source.write.x": ["unknown key"],
        "source.write.on": [
            "No unique index on (name): name the primary key or the fields of a unique index "
            "of this storage."
        ],
        "source.write.keep_newer": [
            "'name' is a text field; keep_newer takes a field of type date, datetime, "
            "integer, decimal."
        ],
        "source.delete.match.path": ["a JSON Pointer starts with '/'"],
        "source.delete.match": ["needs exactly one of: equals, in, exists, gt, gte, lt, lte"],
        "source.delete.key": ["must be a JSON Pointer string"],
    }


@pytest.mark.parametrize(
    "write",
    [
        {"mode": "merge"},
        {"mode": "insert", "on": ["tag"]},
        {"mode": "ignore", "keep_newer": "age"},
        {"mode": "upsert", "on": []},
        {"mode": "upsert", "on": "tag"},
        "upsert",
    ],
)
def test_hostile_write_blocks_are_refused(api_client, write):
    definition = {
        "name": "bad",
        "primary_key": {"name": "tag", "type": "text"},
        "fields": [{"name": "age", "type": "integer"}],
        "source": {"match": IS_CAT, "map": {"tag": "/tag"}, "write": write},
    }

    response = api_client.post("/api/v1/factory/storage/", definition, format="json")

    assert response.status_code == 400
    assert all(path.startswith("source.write") for path in response.json()["errors"])


def test_changing_the_write_mode_is_a_compatible_change(api_client, cats):
    cats()
    current = api_client.get("/api/v1/factory/storage/cats/").json()
    body = {
        key: current[key] for key in ("name", "description", "primary_key", "fields", "indexes")
    }
    body["source"] = {**current["source"], "write": {"mode": "upsert"}}

    response = api_client.put(
        "/api/v1/factory/storage/cats/", body, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200
    assert response.json()["source"]["write"] == {"mode": "upsert", "on": ["tag"]}
    assert ingest(api_client, [cat("tom")])["written"] == 1
    assert ingest(api_client, [cat("tom", age=5)])["updated"] == 1
