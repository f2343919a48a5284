"""The factory API: /api/v1/factory/storage/ and /api/v1/factory/ready_status/.

Every answer is pinned whole, problem details included.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from drf_spectacular.generators import SchemaGenerator

from core.testing import storage_db
from factory.models import StorageDefinition, StorageVersion
from factory.schema import ddl
from factory.schema.builder import index_name
from factory.schema.definition import normalize_definition
from factory.tests.factories import DefinitionFactory, dogs_definition
from factory.tests.invalid_definitions import INVALID_DEFINITIONS, with_index
from factory.tests.tables import columns, indexes, storage_tables, table_exists

STORAGES = "/api/v1/factory/storage/"
PROBLEM = "application/problem+json"
INVALID = "The storage definition is invalid; see errors."


def detail_url(name: str) -> str:
    return f"{STORAGES}{name}/"


def ready_url(name: str) -> str:
    return f"/api/v1/factory/ready_status/{name}/"


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def post(api_client, data: Any):
    return api_client.post(STORAGES, data, format="json")


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": code, "title": title, "status": status, "detail": detail, **extra}


def not_found(name: str) -> dict[str, Any]:
    return problem(404, "storage-not-found", "Storage not found", f"No storage named '{name}'.")


def assert_nothing_created() -> None:
    assert StorageDefinition.objects.count() == 0
    assert StorageVersion.objects.count() == 0
    assert storage_tables() == set()


def assert_nothing_created_but_the_legacy_table() -> None:
    assert StorageDefinition.objects.count() == 0
    assert StorageVersion.objects.count() == 0
    assert storage_tables() == {"ds_dogs"}
    assert set(columns("ds_dogs")) == {"legacy"}


SMALL = {
    "name": "notes",
    "description": "Short notes",
    "primary_key": {"name": "ref", "type": "uuid"},
    "fields": [
        {"name": "body", "type": "text", "max_length": 200, "required": True},
        {"name": "stars", "type": "integer", "min": 1, "max": 5, "default": 3},
        {"name": "price", "type": "decimal", "max_digits": 6, "decimal_places": 2, "min": 0},
    ],
    "indexes": [{"fields": ["stars", "body"]}],
}


# --- POST storage/ -----------------------------------------------------------------------


@storage_db
def test_post_creates_the_storage_and_answers_201_with_its_definition(api_client):
    response = post(api_client, SMALL)

    storage = StorageDefinition.objects.get(name="notes")
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert response["Location"] == "http://testserver/api/v1/factory/storage/notes/"
    assert response["ETag"] == '"1"'
    assert response.json() == {
        "name": "notes",
        "description": "Short notes",
        "version": 1,
        "status": "ready",
        "primary_key": {"name": "ref", "type": "uuid"},
        "fields": [
            {
                "name": "body",
                "type": "text",
                "required": True,
                "nullable": False,
                "max_length": 200,
            },
            {
                "name": "stars",
                "type": "integer",
                "required": False,
                "nullable": True,
                "min": 1,
                "max": 5,
                "default": 3,
            },
            {
                "name": "price",
                "type": "decimal",
                "required": False,
                "nullable": True,
                "max_digits": 6,
                "decimal_places": 2,
                "min": "0.00",
            },
        ],
        "indexes": [{"fields": ["stars", "body"], "type": "btree", "unique": False}],
        "source": None,
        "retention": None,
        "distribution": None,
        "partition": None,
        "created_at": iso(storage.created_at),
        "updated_at": iso(storage.updated_at),
    }


@storage_db
def test_post_records_version_1_and_creates_the_table(api_client):
    post(api_client, SMALL)

    storage = StorageDefinition.objects.get(name="notes")
    (version,) = storage.versions.all()
    assert (storage.version, storage.serving_version, storage.status) == (1, 1, "ready")
    assert (version.number, version.status, version.detail) == (1, "ready", "")
    assert version.definition == normalize_definition(SMALL)
    assert version.changes == [{"op": "create_storage"}]
    assert version.ready_at is not None
    assert storage_tables() == {"ds_notes"}
    assert indexes("ds_notes") == {("btree", ("stars", "body"))}


@storage_db
def test_post_of_the_readme_example_creates_its_table_and_indexes(api_client):
    response = post(api_client, dogs_definition())

    assert response.status_code == 201
    assert {k: v for k, v in response.json().items() if k not in ("created_at", "updated_at")} == {
        "version": 1,
        "status": "ready",
        **normalize_definition(dogs_definition()),
        "source": None,
        "retention": None,
        "distribution": None,
        "partition": None,
    }
    assert indexes("ds_dogs") == {("btree", ("breed",)), ("unique", ("name", "born"))}


@storage_db
def test_the_documented_example_body_creates_a_storage(api_client):
    # What Swagger UI's "Try it out" sends by default for this operation.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    body = schema["paths"]["/api/v1/factory/storage/"]["post"]["requestBody"]
    example = body["content"]["application/json"]["examples"]["Dogs"]["value"]

    response = post(api_client, example)

    assert response.status_code == 201, response.json()
    assert response.json()["name"] == "dogs"


@pytest.mark.postgresql
@storage_db
def test_post_of_the_full_issue_example_builds_brin_and_gin_indexes(api_client):
    definition = dogs_definition()
    definition["indexes"] += [
        {"fields": ["registered_at"], "type": "brin"},
        {"fields": ["extra"], "type": "gin"},
    ]

    response = post(api_client, definition)

    assert response.status_code == 201
    assert response.json()["indexes"][2:] == [
        {"fields": ["registered_at"], "type": "brin", "unique": False},
        {"fields": ["extra"], "type": "gin", "unique": False},
    ]
    assert indexes("ds_dogs") == {
        ("btree", ("breed",)),
        ("unique", ("name", "born")),
        ("brin", ("registered_at",)),
        ("gin", ("extra",)),
    }


@storage_db
def test_post_with_only_name_and_fields_takes_the_defaults(api_client):
    response = post(api_client, {"name": "bare", "fields": [{"name": "v", "type": "json"}]})

    body = response.json()
    assert response.status_code == 201
    assert (body["description"], body["primary_key"], body["indexes"]) == (
        "",
        {"name": "id", "type": "serial"},
        [],
    )
    assert set(columns("ds_bare")) == {"id", "_version", "_created_at", "_updated_at", "v"}


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "errors"), INVALID_DEFINITIONS)
def test_post_of_an_invalid_definition_answers_400_and_creates_nothing(api_client, data, errors):
    response = post(api_client, data)

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json() == problem(
        400, "validation-error", "Invalid input", INVALID, errors=errors
    )
    assert_nothing_created()


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b'["name", "things"]', b'"things"', b"7", b"null"])
def test_post_of_a_body_that_is_not_an_object_answers_400(api_client, body):
    response = api_client.post(STORAGES, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == problem(
        400,
        "validation-error",
        "Invalid input",
        "The request has invalid input; see errors.",
        errors={"non_field_errors": ["A definition must be a JSON object."]},
    )
    assert_nothing_created()


@pytest.mark.django_db
def test_post_of_malformed_json_answers_400(api_client):
    response = api_client.post(STORAGES, b'{"name": "dogs",', content_type="application/json")

    body = response.json()
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert {k: body[k] for k in ("type", "title", "status")} == {
        "type": "malformed-request",
        "title": "Malformed request",
        "status": 400,
    }
    assert body["detail"].startswith("Malformed JSON: ")
    assert_nothing_created()


@pytest.mark.django_db
def test_post_of_a_blank_body_answers_400(api_client):
    response = api_client.post(STORAGES, b"  \n", content_type="application/json")

    assert response.status_code == 400
    assert response.json() == problem(
        400,
        "malformed-request",
        "Malformed request",
        "The request body is empty; a JSON document was expected.",
    )


@pytest.mark.django_db
def test_post_without_a_body_answers_400_naming_the_required_keys(api_client):
    response = api_client.post(STORAGES)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "name": ["This field is required."],
        "fields": ["This field is required."],
    }
    assert_nothing_created()


@pytest.mark.django_db
def test_post_of_too_many_fields_answers_400(api_client, settings):
    settings.MAX_FIELDS_PER_STORAGE = 2
    data = {"name": "wide", "fields": [{"name": f"f{i}", "type": "text"} for i in range(3)]}

    response = post(api_client, data)

    assert response.status_code == 400
    assert response.json()["errors"] == {"fields": ["at most 2 fields are allowed; got 3"]}
    assert_nothing_created()


@pytest.mark.sqlite
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "index_type"), [("age", "hash"), ("age", "brin"), ("data", "gin")]
)
def test_post_of_a_postgresql_only_index_on_sqlite_answers_400(api_client, field, index_type):
    response = post(api_client, with_index({"fields": [field], "type": index_type}))

    assert response.status_code == 400
    assert response.json() == problem(
        400,
        "validation-error",
        "Invalid input",
        INVALID,
        errors={
            "indexes.0.type": [f"{index_type} indexes need PostgreSQL; this service runs on sqlite"]
        },
    )
    assert_nothing_created()


@storage_db
def test_post_of_a_taken_name_answers_409_and_changes_nothing(api_client, create_storage):
    create_storage(dogs_definition())

    response = post(api_client, dogs_definition(description="Another pack"))

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json() == problem(
        409, "already-exists", "Already exists", "A storage named 'dogs' already exists."
    )
    storage = StorageDefinition.objects.get()
    assert (storage.description, storage.version, storage.versions.count()) == (
        "Dogs out of the animal registry feed",
        1,
        1,
    )


@storage_db
def test_post_of_a_name_taken_by_a_different_definition_answers_409(api_client, create_storage):
    create_storage(dogs_definition())

    response = post(api_client, {"name": "dogs", "fields": [{"name": "x", "type": "integer"}]})

    assert response.status_code == 409
    assert "x" not in columns("ds_dogs")


# --- GET storage/ ------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_without_storages_is_an_empty_page(api_client):
    response = api_client.get(STORAGES)

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@storage_db
def test_list_is_ordered_by_name_with_a_summary_of_each(api_client, create_storage):
    for name in ("zebras", "ants", "moles"):
        create_storage(DefinitionFactory(name=name, description=f"All the {name}"))

    response = api_client.get(STORAGES)

    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [
            {"name": name, "description": f"All the {name}", "version": 1, "status": "ready"}
            for name in ("ants", "moles", "zebras")
        ],
    }


@storage_db
def test_list_is_paginated(api_client, create_storage):
    for name in ("c_storage", "a_storage", "b_storage"):
        create_storage(DefinitionFactory(name=name))

    first = api_client.get(STORAGES, {"limit": 2}).json()
    second = api_client.get(first["next"]).json()

    assert (first["count"], [s["name"] for s in first["results"]]) == (
        3,
        ["a_storage", "b_storage"],
    )
    assert first["next"] == "http://testserver/api/v1/factory/storage/?limit=2&page=2"
    assert first["previous"] is None
    assert [s["name"] for s in second["results"]] == ["c_storage"]
    assert second["next"] is None
    assert second["previous"] == "http://testserver/api/v1/factory/storage/?limit=2"


@storage_db
def test_list_page_size_is_capped(api_client, create_storage, settings):
    settings.PAGE_SIZE_MAX = 2
    for name in ("a_storage", "b_storage", "c_storage"):
        create_storage(DefinitionFactory(name=name))

    response = api_client.get(STORAGES, {"limit": 50})

    assert len(response.json()["results"]) == 2


@pytest.mark.django_db
def test_list_page_out_of_range_answers_404(api_client):
    response = api_client.get(STORAGES, {"page": 3})

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"] == "not-found"


@storage_db
def test_list_takes_three_queries_however_many_storages(
    api_client, create_storage, django_assert_num_queries
):
    for index in range(5):
        create_storage(DefinitionFactory(name=f"s{index}"))

    # The token, the count, the page.
    with django_assert_num_queries(3):
        response = api_client.get(STORAGES)

    assert response.json()["count"] == 5


# --- GET storage/{name}/ -----------------------------------------------------------------


@storage_db
def test_detail_answers_the_current_definition_with_its_etag(api_client, create_storage):
    storage = create_storage(SMALL)

    response = api_client.get(detail_url("notes"))

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json() == {
        "name": "notes",
        "version": 1,
        "status": "ready",
        **{k: v for k, v in normalize_definition(SMALL).items() if k != "name"},
        "source": None,
        "retention": None,
        "distribution": None,
        "partition": None,
        "created_at": iso(storage.created_at),
        "updated_at": iso(storage.updated_at),
    }


@storage_db
def test_detail_answers_what_post_answered(api_client):
    created = post(api_client, dogs_definition())

    response = api_client.get(created["Location"])

    assert response.json() == created.json()
    assert response["ETag"] == created["ETag"]


@pytest.mark.django_db
def test_detail_of_an_unknown_storage_answers_404(api_client):
    response = api_client.get(detail_url("nope"))

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json() == not_found("nope")


# --- DELETE storage/{name}/ --------------------------------------------------------------


@storage_db
def test_delete_without_if_match_answers_428_and_keeps_the_storage(api_client, create_storage):
    create_storage(dogs_definition())

    response = api_client.delete(detail_url("dogs"))

    assert response.status_code == 428
    assert response["Content-Type"] == PROBLEM
    assert response.json() == problem(
        428,
        "precondition-required",
        "Precondition required",
        "Send If-Match with the version you last read (its ETag).",
    )
    assert StorageDefinition.objects.filter(name="dogs").exists()
    assert table_exists("ds_dogs")


@storage_db
@pytest.mark.parametrize("stale", ['"2"', "0", 'W/"7"'])
def test_delete_with_a_stale_version_answers_412_and_keeps_the_storage(
    api_client, create_storage, stale
):
    create_storage(dogs_definition())

    response = api_client.delete(detail_url("dogs"), HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert response.json() == problem(
        412,
        "precondition-failed",
        "Precondition failed",
        "The resource is at version 1; re-read it and retry.",
        current_version=1,
    )
    assert StorageDefinition.objects.filter(name="dogs").exists()
    assert table_exists("ds_dogs")


@storage_db
@pytest.mark.parametrize("tag", ['"1"', "1", 'W/"1"', "*", '"3", "1"'])
def test_delete_with_the_current_version_drops_storage_and_table(api_client, create_storage, tag):
    create_storage(dogs_definition())

    response = api_client.delete(detail_url("dogs"), HTTP_IF_MATCH=tag)

    assert response.status_code == 204
    assert response.content == b""
    assert not table_exists("ds_dogs")
    assert_nothing_created()
    assert api_client.get(detail_url("dogs")).status_code == 404


@storage_db
def test_delete_with_a_malformed_if_match_answers_400(api_client, create_storage):
    create_storage(dogs_definition())

    response = api_client.delete(detail_url("dogs"), HTTP_IF_MATCH="version-one")

    assert response.status_code == 400
    assert response.json() == problem(
        400,
        "validation-error",
        "Invalid input",
        "The If-Match header is malformed.",
        errors={"If-Match": ["'version-one' is not a version tag; send the ETag, e.g. \"3\"."]},
    )
    assert table_exists("ds_dogs")


@storage_db
def test_delete_of_an_unknown_storage_answers_404(api_client):
    response = api_client.delete(detail_url("nope"), HTTP_IF_MATCH='"1"')

    assert response.status_code == 404
    assert response.json() == not_found("nope")


@storage_db
def test_delete_drops_nothing_but_its_own_storage(api_client, create_storage):
    create_storage(dogs_definition())
    create_storage(dogs_definition(name="cats"))

    api_client.delete(detail_url("dogs"), HTTP_IF_MATCH='"1"')

    assert storage_tables() == {"ds_cats"}
    assert list(StorageDefinition.objects.values_list("name", flat=True)) == ["cats"]
    assert StorageVersion.objects.get().storage.name == "cats"
    assert indexes("ds_cats") == {("btree", ("breed",)), ("unique", ("name", "born"))}


@storage_db
def test_storage_created_again_under_the_same_name_is_a_new_storage(api_client, create_storage):
    old = create_storage(dogs_definition())
    api_client.delete(detail_url("dogs"), HTTP_IF_MATCH='"1"')
    again = {
        "name": "dogs",
        "fields": [{"name": "nickname", "type": "text"}],
        "indexes": [{"fields": ["nickname"], "unique": True}],
    }

    response = post(api_client, again)

    new = StorageDefinition.objects.get(name="dogs")
    assert response.status_code == 201
    assert response["ETag"] == '"1"'
    assert new.id != old.id
    assert [f["name"] for f in response.json()["fields"]] == ["nickname"]
    assert set(columns("ds_dogs")) == {"id", "_version", "_created_at", "_updated_at", "nickname"}
    assert indexes("ds_dogs") == {("unique", ("nickname",))}
    assert api_client.get(ready_url("dogs")).json()["ready"] is True


# --- ready_status/{name}/ ----------------------------------------------------------------


@storage_db
def test_ready_status_reads_the_storage_and_its_version_in_one_statement(
    create_storage, django_assert_num_queries
):
    """Read apart, a version made ready between the two reads showed `ready` with the
    previous serving version (tests/reliability/test_multiworker.py saw it once)."""
    from factory.selectors import ready_status

    create_storage(dogs_definition())

    with django_assert_num_queries(1):
        status = ready_status(name="dogs")

    assert (status["version"], status["serving_version"], status["ready"]) == (1, 1, True)


@storage_db
def test_ready_status_through_the_life_of_a_storage(api_client):
    assert api_client.get(ready_url("dogs")).json() == not_found("dogs")

    post(api_client, dogs_definition())
    ready = api_client.get(ready_url("dogs"))

    assert ready.status_code == 200
    assert ready.json() == {
        "name": "dogs",
        "version": 1,
        "serving_version": 1,
        "status": "ready",
        "ready": True,
        "detail": None,
        "retention": None,
        "partitions": None,
    }

    api_client.delete(detail_url("dogs"), HTTP_IF_MATCH='"1"')
    gone = api_client.get(ready_url("dogs"))

    assert gone.status_code == 404
    assert gone.json() == not_found("dogs")


# --- a failed table creation -------------------------------------------------------------


def failing_create_table(message: str = "disk full"):
    """ddl.create_table that builds the table, then fails as the database might."""
    real = ddl.create_table

    def create_table(editor, model):
        real(editor, model)
        raise DatabaseError(message)

    return mock.patch("factory.schema.ddl.create_table", side_effect=create_table)


def creation_failed(name: str, reason: str) -> dict[str, Any]:
    return problem(
        503,
        "storage-creation-failed",
        "Storage creation failed",
        f"The table for '{name}' could not be created: {reason}",
    )


@storage_db
def test_failed_table_creation_answers_503_and_leaves_no_table(api_client):
    with failing_create_table():
        response = post(api_client, dogs_definition())

    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM
    assert response["Retry-After"] == "5"
    assert response.json() == creation_failed("dogs", "disk full")
    assert storage_tables() == set()


@storage_db
def test_failed_table_creation_keeps_the_storage_as_failed_with_the_reason(api_client):
    with failing_create_table():
        post(api_client, dogs_definition())

    storage = StorageDefinition.objects.get(name="dogs")
    (version,) = storage.versions.all()
    assert (storage.version, storage.serving_version, storage.status) == (1, None, "failed")
    assert (version.status, version.detail, version.ready_at) == ("failed", "disk full", None)
    assert version.definition == normalize_definition(dogs_definition())
    assert api_client.get(ready_url("dogs")).json() == {
        "name": "dogs",
        "version": 1,
        "serving_version": None,
        "status": "failed",
        "ready": False,
        "detail": "disk full",
        "retention": None,
        "partitions": None,
    }
    assert api_client.get(detail_url("dogs")).json()["status"] == "failed"
    assert api_client.get(STORAGES).json()["results"] == [
        {
            "name": "dogs",
            "description": "Dogs out of the animal registry feed",
            "version": 1,
            "status": "failed",
        }
    ]


@storage_db
def test_failed_storage_can_be_deleted_and_created_again(api_client):
    with failing_create_table():
        post(api_client, dogs_definition())

    taken = post(api_client, dogs_definition())
    deleted = api_client.delete(detail_url("dogs"), HTTP_IF_MATCH='"1"')
    created = post(api_client, dogs_definition())

    assert (taken.status_code, deleted.status_code, created.status_code) == (409, 204, 201)
    assert api_client.get(ready_url("dogs")).json()["status"] == "ready"
    assert table_exists("ds_dogs")


@storage_db
def test_failing_index_build_leaves_no_table_and_answers_503(api_client):
    # Index names are global to the database: one already taken makes CREATE INDEX fail
    # after CREATE TABLE succeeded.
    name = index_name("ds_dogs", {"fields": ["breed"], "type": "btree", "unique": False})
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE ds_other (x integer)")
        cursor.execute(f"CREATE INDEX {connection.ops.quote_name(name)} ON ds_other (x)")

    response = post(api_client, dogs_definition())

    body = response.json()
    assert response.status_code == 503
    assert body["type"] == "storage-creation-failed"
    assert body["detail"].startswith("The table for 'dogs' could not be created: ")
    assert name in body["detail"]
    assert "already exists" in body["detail"]
    assert not table_exists("ds_dogs")
    assert StorageDefinition.objects.get(name="dogs").status == "failed"
    assert api_client.get(ready_url("dogs")).json()["ready"] is False


@storage_db
def test_existing_table_of_the_same_name_fails_the_creation_and_is_left_alone(api_client):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE ds_dogs (legacy integer)")
        cursor.execute("INSERT INTO ds_dogs (legacy) VALUES (7)")

    response = post(api_client, dogs_definition())

    body = response.json()
    assert response.status_code == 503
    assert body["type"] == "storage-creation-failed"
    assert body["detail"].startswith("The table for 'dogs' could not be created: ")
    assert "already exists" in body["detail"]
    assert set(columns("ds_dogs")) == {"legacy"}
    status = api_client.get(ready_url("dogs")).json()
    assert (status["status"], status["ready"], status["serving_version"]) == ("failed", False, None)
    assert "already exists" in status["detail"]


@storage_db
def test_deleting_a_failed_storage_leaves_a_table_it_did_not_create(api_client):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE ds_dogs (legacy integer)")
        cursor.execute("INSERT INTO ds_dogs (legacy) VALUES (7)")
    post(api_client, dogs_definition())

    response = api_client.delete(detail_url("dogs"), HTTP_IF_MATCH='"1"')

    assert response.status_code == 204
    assert_nothing_created_but_the_legacy_table()
    with connection.cursor() as cursor:
        cursor.execute("SELECT legacy FROM ds_dogs")
        assert cursor.fetchall() == [(7,)]
