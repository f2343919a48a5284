"""PUT /api/v1/factory/storage/{name}/: declaring versions over HTTP, their history and retry."""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.testing import storage_db
from factory.models import StorageDefinition, StorageVersion
from factory.schema import ddl
from factory.schema.builder import index_name
from factory.schema.definition import normalize_definition
from factory.tests.factories import dogs_definition
from factory.tests.tables import columns, index_names
from storage.runtime import runtime_for

URL = "/api/v1/factory/storage/dogs/"
VERSIONS = URL + "versions/"
READY = "/api/v1/factory/ready_status/dogs/"
RECORDS = "/api/v1/storage/dogs/"
TABLE = "ds_dogs"
DDL_VERBS = ("ALTER", "CREATE", "DROP")

COLOR = {"name": "color", "type": "text", "nullable": False, "default": "unknown"}
ADD_COLOR = [
    {
        "op": "add_field",
        "field": "color",
        "definition": {
            "name": "color",
            "type": "text",
            "required": False,
            "nullable": False,
            "default": "unknown",
        },
    },
    {"op": "add_index", "index": {"fields": ["color"], "type": "btree", "unique": False}},
]


def with_color() -> dict[str, Any]:
    definition = dogs_definition()
    definition["fields"].append(COLOR)
    definition["indexes"].append({"fields": ["color"]})
    return definition


def put(client, definition: Any, if_match: str | None = '"1"', query: str = ""):
    headers = {} if if_match is None else {"HTTP_IF_MATCH": if_match}
    return client.put(URL + query, definition, format="json", **headers)


def add_dog(client, **fields: Any) -> dict[str, Any]:
    body = {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z", **fields}
    response = client.post(RECORDS, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def version_count() -> int:
    return StorageVersion.objects.filter(storage__name="dogs").count()


def ddl_statements(queries: CaptureQueriesContext) -> list[str]:
    """Read it before the next request: a request clears the connection's query log."""
    assert queries.captured_queries, "no query captured"
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith(DDL_VERBS)]


@pytest.fixture
def dogs(create_storage):
    return create_storage(dogs_definition())


@pytest.fixture
def declare(api_client, django_capture_on_commit_callbacks):
    """PUT a definition and let the migration it queues run (on commit, inline)."""

    def declare(definition: Any, if_match: str = '"1"'):
        with django_capture_on_commit_callbacks(execute=True):
            return put(api_client, definition, if_match)

    return declare


# --- If-Match --------------------------------------------------------------------------


@storage_db
def test_put_without_if_match_answers_428_and_changes_nothing(api_client, dogs):
    response = put(api_client, with_color(), if_match=None)

    assert response.status_code == 428
    assert response.json() == {
        "type": "precondition-required",
        "title": "Precondition required",
        "status": 428,
        "detail": "Send If-Match with the version you last read (its ETag).",
    }
    assert version_count() == 1
    assert "color" not in columns(TABLE)


@storage_db
def test_put_with_stale_version_answers_412_and_changes_nothing(api_client, dogs, declare):
    declare({**dogs_definition(), "description": "Second"})

    response = put(api_client, with_color(), if_match='"1"')

    assert response.status_code == 412
    assert response.json() == {
        "type": "precondition-failed",
        "title": "Precondition failed",
        "status": 412,
        "detail": "The resource is at version 2; re-read it and retry.",
        "current_version": 2,
    }
    assert version_count() == 2
    assert "color" not in columns(TABLE)


@storage_db
def test_put_to_an_unknown_storage_answers_404(api_client):
    response = api_client.put(
        "/api/v1/factory/storage/nowhere/", dogs_definition(), format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 404
    assert response.json() == {
        "type": "storage-not-found",
        "title": "Storage not found",
        "status": 404,
        "detail": "No storage named 'nowhere'.",
    }


# --- identical, description-only, accepted ------------------------------------------------


@storage_db
def test_identical_definition_answers_200_without_a_new_version(api_client, dogs):
    same = dogs_definition()
    same["indexes"].reverse()  # the order of indexes does not matter
    same["fields"][1]["nullable"] = True  # spelled out: already the default
    same["primary_key"] = {"name": "id", "type": "serial"}

    with CaptureQueriesContext(connection) as queries:
        response = put(api_client, same)

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    body = response.json()
    assert (body["version"], body["status"], body["changes"]) == (1, "ready", [])
    assert version_count() == 1
    assert ddl_statements(queries) == []


@storage_db
def test_description_only_change_makes_a_version_that_serves_at_once(api_client, dogs):
    changed = {**dogs_definition(), "description": "Dogs, and only dogs"}

    with CaptureQueriesContext(connection) as queries:
        response = put(api_client, changed)

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    body = response.json()
    assert body["version"] == 2
    assert body["status"] == "ready"
    assert body["description"] == "Dogs, and only dogs"
    assert body["changes"] == [{"op": "change_description"}]
    assert ddl_statements(queries) == []
    assert api_client.get(READY).json() == {
        "name": "dogs",
        "version": 2,
        "serving_version": 2,
        "status": "ready",
        "ready": True,
        "detail": None,
        "retention": None,
        "partitions": None,
    }
    assert runtime_for("dogs").version == 2


@storage_db
def test_accepted_ddl_change_answers_202_then_becomes_ready(api_client, dogs, declare):
    old = add_dog(api_client)

    response = declare(with_color())

    assert response.status_code == 202
    assert response["ETag"] == '"2"'
    body = response.json()
    assert (body["version"], body["status"]) == (2, "pending")
    assert body["changes"] == ADD_COLOR
    assert body["fields"][-1] == ADD_COLOR[0]["definition"]
    assert api_client.get(READY).json() == {
        "name": "dogs",
        "version": 2,
        "serving_version": 2,
        "status": "ready",
        "ready": True,
        "detail": None,
        "retention": None,
        "partitions": None,
    }
    assert api_client.get(f"{RECORDS}{old['id']}/").json()["color"] == "unknown"
    assert index_name(TABLE, {"fields": ["color"], "type": "btree", "unique": False}) in (
        index_names(TABLE)
    )


@storage_db
def test_get_storage_shows_the_latest_version_and_its_etag(api_client, dogs, declare):
    declare(with_color())

    response = api_client.get(URL)

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    body = response.json()
    assert (body["version"], body["status"]) == (2, "ready")
    assert [f["name"] for f in body["fields"]][-1] == "color"
    assert {"fields": ["color"], "type": "btree", "unique": False} in body["indexes"]


@storage_db
def test_next_put_carries_the_new_etag(api_client, dogs, declare):
    declare(with_color())
    third = {**with_color(), "description": "Third"}

    assert put(api_client, third, if_match='"1"').status_code == 412
    response = put(api_client, third, if_match='"2"')

    assert response.status_code == 200
    assert response["ETag"] == '"3"'
    assert response.json()["changes"] == [{"op": "change_description"}]


@storage_db
def test_a_version_may_omit_the_name(api_client, dogs):
    nameless = {key: value for key, value in dogs_definition().items() if key != "name"}
    nameless["description"] = "No name given"

    response = put(api_client, nameless)

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["version"]) == ("dogs", 2)


@storage_db
def test_renaming_through_the_body_answers_400(api_client, dogs):
    response = put(api_client, {**dogs_definition(), "name": "cats"})

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": "The request has invalid input; see errors.",
        "errors": {"name": ["A storage cannot be renamed."]},
    }
    assert version_count() == 1


@storage_db
def test_invalid_definition_answers_400_with_its_errors(api_client, dogs):
    broken = dogs_definition()
    broken["fields"].append({"name": "color", "type": "colour"})

    response = put(api_client, broken)

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation-error"
    assert list(body["errors"]) == ["fields.10.type"]
    assert version_count() == 1


# --- dry run -------------------------------------------------------------------------------


@storage_db
def test_dry_run_answers_the_verdict_and_changes_nothing(api_client, dogs):
    with CaptureQueriesContext(connection) as queries:
        response = put(api_client, with_color(), query="?dry_run=true")

    assert response.status_code == 200
    assert response.json() == {
        "dry_run": True,
        "compatible": True,
        "version": 1,
        "changes": ADD_COLOR,
        "errors": {},
    }
    assert ddl_statements(queries) == []
    assert version_count() == 1
    assert StorageDefinition.objects.get(name="dogs").version == 1
    assert "color" not in columns(TABLE)


@storage_db
def test_dry_run_of_an_incompatible_change_explains_itself(api_client, dogs):
    definition = dogs_definition()
    definition["fields"] = [f for f in definition["fields"] if f["name"] != "extra"]

    response = put(api_client, definition, query="?dry_run=true")

    assert response.status_code == 200
    assert response.json() == {
        "dry_run": True,
        "compatible": False,
        "version": 1,
        "changes": [],
        "errors": {"fields": ["field 'extra' cannot be removed or renamed"]},
    }
    assert version_count() == 1


# --- refused -------------------------------------------------------------------------------


@storage_db
def test_incompatible_change_answers_400_with_one_entry_per_change(api_client, dogs):
    definition = dogs_definition()
    fields = {spec["name"]: spec for spec in definition["fields"]}
    del fields["extra"]  # removed
    fields["age"]["type"] = "float"  # type change
    fields["name"]["max_length"] = 20  # tightened
    fields["size"]["choices"] = ["small", "large"]  # a choice removed
    definition["fields"] = [*fields.values(), {"name": "owner", "type": "text", "required": True}]
    definition["description"] = "Also changed, but the change is refused as a whole"

    response = put(api_client, definition)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "incompatible-change",
        "title": "Incompatible schema change",
        "status": 400,
        "detail": "The new definition is not backward compatible; see errors.",
        "errors": {
            "fields": ["field 'extra' cannot be removed or renamed"],
            "fields.0.max_length": ["max_length can only be raised"],
            "fields.2.type": ["the type cannot change (integer -> float)"],
            "fields.8.choices": ["choices can only gain values"],
            "fields.9": ["a new required field needs a default"],
        },
    }
    storage = StorageDefinition.objects.get(name="dogs")
    assert (storage.version, storage.description) == (1, dogs_definition()["description"])
    assert version_count() == 1


@storage_db
def test_primary_key_change_is_refused(api_client, dogs):
    response = put(api_client, {**dogs_definition(), "primary_key": {"name": "id", "type": "uuid"}})

    assert response.status_code == 400
    assert response.json()["type"] == "incompatible-change"
    assert response.json()["errors"] == {"primary_key": ["the primary key cannot change"]}


# --- a migration in progress ---------------------------------------------------------------


@storage_db
@pytest.mark.parametrize("status", ["pending", "migrating"])
def test_put_while_a_version_is_being_applied_answers_409_with_retry_after(
    api_client, dogs, declare, status
):
    declare(with_color())
    StorageVersion.objects.filter(storage=dogs, number=2).update(status=status)

    response = put(api_client, {**with_color(), "description": "Later"}, if_match='"2"')

    assert response.status_code == 409
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "type": "migration-in-progress",
        "title": "A migration is in progress",
        "status": 409,
        "detail": "Version 2 of 'dogs' is still being applied; retry later.",
    }
    assert version_count() == 2


# --- history -------------------------------------------------------------------------------


@storage_db
def test_versions_list_shows_the_history(api_client, dogs, declare, django_assert_num_queries):
    declare(with_color())

    # The token, the storage, the count, the page.
    with django_assert_num_queries(4):
        response = api_client.get(VERSIONS)

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "version": 1,
                "status": "ready",
                "detail": None,
                "changes": [{"op": "create_storage"}],
                "created_at": ANY,
                "ready_at": ANY,
            },
            {
                "version": 2,
                "status": "ready",
                "detail": None,
                "changes": ADD_COLOR,
                "created_at": ANY,
                "ready_at": ANY,
            },
        ],
    }
    first, second = response.json()["results"]
    assert first["created_at"] <= second["created_at"] <= second["ready_at"]


@storage_db
def test_version_detail_holds_the_full_definition(api_client, dogs, declare):
    declare(with_color())

    first = api_client.get(f"{VERSIONS}1/")
    second = api_client.get(f"{VERSIONS}2/")

    assert first.status_code == second.status_code == 200
    assert first.json()["definition"] == normalize_definition(dogs_definition())
    assert second.json() == {
        "version": 2,
        "status": "ready",
        "detail": None,
        "changes": ADD_COLOR,
        "created_at": ANY,
        "ready_at": ANY,
        "definition": normalize_definition(with_color()),
    }


@storage_db
def test_unknown_version_answers_404(api_client, dogs):
    response = api_client.get(f"{VERSIONS}9/")

    assert response.status_code == 404
    assert response.json() == {
        "type": "not-found",
        "title": "Not found",
        "status": 404,
        "detail": "Storage 'dogs' has no version 9.",
    }


@storage_db
def test_versions_of_an_unknown_storage_answer_404(api_client):
    response = api_client.get("/api/v1/factory/storage/nowhere/versions/")

    assert response.status_code == 404
    assert response.json()["type"] == "storage-not-found"


# --- a failed version, and its retry ---------------------------------------------------------

UNIQUE_NAME = {"fields": ["name"], "type": "btree", "unique": True}


def with_unique_name() -> dict[str, Any]:
    definition = dogs_definition()
    definition["indexes"].append(dict(UNIQUE_NAME))
    return definition


@pytest.fixture
def failed_v2(api_client, dogs):
    """Version 2 adds a unique index on `name` while two dogs share one: it fails."""
    add_dog(api_client, name="Rex")
    duplicate = add_dog(api_client, name="Rex")
    response = put(api_client, with_unique_name())
    assert response.status_code == 202, response.json()
    return duplicate


@pytest.mark.django_db(transaction=True)  # the failing build is a real, committed one
def test_failed_version_is_kept_and_the_previous_version_keeps_serving(api_client, failed_v2):
    status = api_client.get(READY).json()

    assert status == {
        "name": "dogs",
        "version": 2,
        "serving_version": 1,
        "status": "failed",
        "ready": False,
        "detail": ANY,
        "retention": None,
        "partitions": None,
    }
    assert "unique" in status["detail"].lower()
    assert "name" in status["detail"]
    assert ddl.index_state(TABLE, index_name(TABLE, UNIQUE_NAME)) is None
    versions = api_client.get(VERSIONS).json()["results"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "ready"), (2, "failed")]
    assert versions[1]["detail"] == status["detail"]
    assert api_client.get(URL).json()["status"] == "failed"
    # The records API serves version 1 and takes writes as before.
    add_dog(api_client, name="Rex")
    assert api_client.get(RECORDS).json()["results"][0]["name"] == "Rex"


@pytest.mark.django_db(transaction=True)
def test_retry_of_a_failed_version_after_fixing_the_data_makes_it_ready(api_client, failed_v2):
    assert api_client.delete(f"{RECORDS}{failed_v2['id']}/").status_code == 204

    response = api_client.post(f"{VERSIONS}2/retry/")

    assert response.status_code == 202
    assert response.json() == {
        "version": 2,
        "status": "pending",
        "detail": None,
        "changes": [{"op": "add_index", "index": UNIQUE_NAME}],
        "created_at": ANY,
        "ready_at": None,
    }
    assert api_client.get(READY).json() == {
        "name": "dogs",
        "version": 2,
        "serving_version": 2,
        "status": "ready",
        "ready": True,
        "detail": None,
        "retention": None,
        "partitions": None,
    }
    assert ddl.index_state(TABLE, index_name(TABLE, UNIQUE_NAME)) == "valid"
    refused = api_client.post(
        RECORDS, {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z"}, format="json"
    )
    assert refused.status_code == 409


@pytest.mark.django_db(transaction=True)
def test_retry_that_fails_again_keeps_the_version_failed(api_client, failed_v2):
    response = api_client.post(f"{VERSIONS}2/retry/")

    assert response.status_code == 202
    status = api_client.get(READY).json()
    assert (status["status"], status["serving_version"]) == ("failed", 1)
    assert "unique" in status["detail"].lower()


@pytest.mark.django_db(transaction=True)
def test_a_corrected_definition_supersedes_a_failed_version(api_client, failed_v2):
    corrected = dogs_definition()
    corrected["indexes"].append({"fields": ["name"]})  # not unique, this time

    response = put(api_client, corrected, if_match='"2"')

    assert response.status_code == 202, response.json()
    assert response.json()["changes"] == [
        {"op": "add_index", "index": {"fields": ["name"], "type": "btree", "unique": False}}
    ]
    status = api_client.get(READY).json()
    assert (status["version"], status["status"], status["serving_version"]) == (3, "ready", 3)
    assert ddl.index_state(TABLE, index_name(TABLE, UNIQUE_NAME)) is None
    add_dog(api_client, name="Rex")  # a third Rex: no unique index came back


@storage_db
def test_retry_of_a_version_that_did_not_fail_answers_400(api_client, dogs, declare):
    declare(with_color())

    for number in (1, 2):
        response = api_client.post(f"{VERSIONS}{number}/retry/")

        assert response.status_code == 400
        assert response.json() == {
            "type": "validation-error",
            "title": "Invalid input",
            "status": 400,
            "detail": "The request has invalid input; see errors.",
            "errors": {"version": ["Only the latest version, when it has failed, can be retried."]},
        }


@storage_db
def test_retry_while_the_version_is_being_applied_answers_409(api_client, dogs, declare):
    declare(with_color())
    StorageVersion.objects.filter(storage=dogs, number=2).update(status="migrating")

    response = api_client.post(f"{VERSIONS}2/retry/")

    assert response.status_code == 409
    assert response["Retry-After"] == "5"
    assert response.json()["type"] == "migration-in-progress"


@storage_db
def test_retry_of_an_unknown_version_answers_404(api_client, dogs):
    response = api_client.post(f"{VERSIONS}7/retry/")

    assert response.status_code == 404
    assert response.json()["detail"] == "Storage 'dogs' has no version 7."


@pytest.mark.django_db(transaction=True)
def test_an_index_a_failed_version_built_goes_when_the_next_version_drops_it(api_client, dogs):
    add_dog(api_client, name="Rex")
    add_dog(api_client, name="Rex")
    size = {"fields": ["size"], "type": "btree", "unique": False}
    failing = dogs_definition()
    failing["indexes"] += [dict(size), dict(UNIQUE_NAME)]  # size builds, then name fails
    assert put(api_client, failing).status_code == 202
    assert api_client.get(READY).json()["status"] == "failed"

    corrected = dogs_definition()
    corrected["indexes"].append({"fields": ["chip"]})

    response = put(api_client, corrected, if_match='"2"')

    assert response.status_code == 202
    assert response.json()["changes"] == [
        {"op": "add_index", "index": {"fields": ["chip"], "type": "btree", "unique": False}}
    ]
    status = api_client.get(READY).json()
    assert (status["version"], status["status"], status["serving_version"]) == (3, "ready", 3)
    assert index_name(TABLE, size) not in index_names(TABLE)
    assert index_name(TABLE, UNIQUE_NAME) not in index_names(TABLE)
    assert index_name(TABLE, {"fields": ["chip"], "type": "btree", "unique": False}) in (
        index_names(TABLE)
    )
