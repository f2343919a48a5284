"""The `source` block of a definition: validated at definition time, path by path, and
versioned with the rest of the definition as a compatible change that needs no DDL."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.testing import storage_db
from factory.models import StorageDefinition
from factory.schema.definition import normalize_definition
from factory.schema.source import MAX_CONDITIONS, MAX_DEPTH, parse_pointer
from factory.tests.tables import storage_tables
from ingest.selectors import route_list

STORAGES = "/api/v1/factory/storage/"
DOGS_URL = STORAGES + "dogs/"
INVALID = "The storage definition is invalid; see errors."
OPERATORS = "needs exactly one of: equals, in, exists, gt, gte, lt, lte"
NOT_WRITABLE = "'{}' is not a writable field of this storage"
NO_SLASH = "a JSON Pointer starts with '/'"
BAD_TILDE = "'~' must be escaped as ~0 ('~') or ~1 ('/')"
NOT_A_POINTER = "must be a JSON Pointer string"
DDL_VERBS = ("ALTER", "CREATE", "DROP")

# The issue's example: dogs out of a stream of animal events.
DOG_SOURCE = {
    "match": {
        "all": [
            {"path": "/animal/species", "equals": "dog"},
            {"path": "/animal/deleted", "exists": False},
        ]
    },
    "map": {
        "name": "/animal/name",
        "age": "/animal/age_years",
        "breed": "/animal/details/breed",
        "registered_at": "/meta/created",
    },
}
FIELDS = [
    {"name": "name", "type": "text", "required": True},
    {"name": "age", "type": "integer", "default": 0},
    {"name": "breed", "type": "text"},
    {"name": "registered_at", "type": "datetime"},
]


def dogs(source: Any = None, **overrides: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {"name": "dogs", "fields": copy.deepcopy(FIELDS), **overrides}
    if source is not None:
        definition["source"] = source
    return definition


def with_match(match: Any) -> dict[str, Any]:
    return dogs({"match": match, "map": {"name": "/animal/name"}})


def with_map(mapping: Any) -> dict[str, Any]:
    return dogs({"match": {"path": "/kind", "equals": "dog"}, "map": mapping})


def nested_not(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"path": "/a", "exists": True}
    for _ in range(levels):
        node = {"not": node}
    return node


def case(case_id: str, data: dict[str, Any], errors: dict[str, list[str]]):
    return pytest.param(data, errors, id=case_id)


INVALID_SOURCES = [
    case("not-an-object", dogs("dog"), {"source": ["must be an object with 'match' and 'map'"]}),
    case("a-list", dogs([DOG_SOURCE]), {"source": ["must be an object with 'match' and 'map'"]}),
    case("unknown-key", dogs({**DOG_SOURCE, "where": {}}), {"source.where": ["unknown key"]}),
    case(
        "match-missing",
        dogs({"map": DOG_SOURCE["map"]}),
        {"source.match": ["This field is required."]},
    ),
    case(
        "map-missing",
        dogs({"match": DOG_SOURCE["match"]}),
        {"source.map": ["This field is required."]},
    ),
    # --- map
    case(
        "map-empty",
        with_map({}),
        {"source.map": ["must be a non-empty object of field -> JSON Pointer"]},
    ),
    case(
        "map-a-list",
        with_map(["/animal/name"]),
        {"source.map": ["must be a non-empty object of field -> JSON Pointer"]},
    ),
    case(
        "map-unknown-field",
        with_map({"colour": "/c"}),
        {"source.map.colour": [NOT_WRITABLE.format("colour")]},
    ),
    case(
        "map-system-field",
        with_map({"_version": "/v"}),
        {"source.map._version": [NOT_WRITABLE.format("_version")]},
    ),
    case(
        "map-serial-primary-key",
        with_map({"name": "/n", "id": "/animal/id"}),
        {"source.map.id": [NOT_WRITABLE.format("id")]},
    ),
    case(
        "map-pointer-without-slash",
        with_map({"name": "animal/name"}),
        {"source.map.name": [NO_SLASH]},
    ),
    case("map-pointer-a-number", with_map({"name": 5}), {"source.map.name": [NOT_A_POINTER]}),
    case("map-pointer-null", with_map({"name": None}), {"source.map.name": [NOT_A_POINTER]}),
    case("map-pointer-bad-escape", with_map({"name": "/a~2b"}), {"source.map.name": [BAD_TILDE]}),
    case("map-pointer-lone-tilde", with_map({"name": "/a~"}), {"source.map.name": [BAD_TILDE]}),
    case(
        "map-pointer-double-tilde", with_map({"name": "/a~~01"}), {"source.map.name": [BAD_TILDE]}
    ),
    case(
        "map-unknown-field-and-bad-pointer",
        with_map({"colour": "c"}),
        {"source.map.colour": [NOT_WRITABLE.format("colour"), NO_SLASH]},
    ),
    # --- match: conditions
    case(
        "match-a-list",
        with_match([{"path": "/a", "exists": True}]),
        {"source.match": ["must be a condition object"]},
    ),
    case("match-a-string", with_match("dog"), {"source.match": ["must be a condition object"]}),
    case(
        "unknown-operator",
        with_match({"path": "/a", "matches": "d.g"}),
        {"source.match.matches": ["unknown key"], "source.match": [OPERATORS]},
    ),
    case(
        "unknown-key-beside-an-operator",
        with_match({"path": "/a", "equals": "dog", "case": "ignore"}),
        {"source.match.case": ["unknown key"]},
    ),
    case("no-operator", with_match({"path": "/a"}), {"source.match": [OPERATORS]}),
    case(
        "two-operators", with_match({"path": "/a", "gt": 1, "lt": 5}), {"source.match": [OPERATORS]}
    ),
    case(
        "path-missing",
        with_match({"equals": "dog"}),
        {"source.match.path": ["This field is required."]},
    ),
    case(
        "path-without-slash",
        with_match({"path": "animal", "exists": True}),
        {"source.match.path": [NO_SLASH]},
    ),
    case(
        "path-a-list",
        with_match({"path": ["animal"], "exists": True}),
        {"source.match.path": [NOT_A_POINTER]},
    ),
    case(
        "path-bad-escape",
        with_match({"path": "/a~b", "exists": True}),
        {"source.match.path": [BAD_TILDE]},
    ),
    case(
        "exists-a-string",
        with_match({"path": "/a", "exists": "yes"}),
        {"source.match.exists": ["must be true or false"]},
    ),
    case(
        "exists-one",
        with_match({"path": "/a", "exists": 1}),
        {"source.match.exists": ["must be true or false"]},
    ),
    case(
        "exists-null",
        with_match({"path": "/a", "exists": None}),
        {"source.match.exists": ["must be true or false"]},
    ),
    case(
        "in-empty",
        with_match({"path": "/a", "in": []}),
        {"source.match.in": ["must be a non-empty list of values"]},
    ),
    case(
        "in-a-string",
        with_match({"path": "/a", "in": "dog"}),
        {"source.match.in": ["must be a non-empty list of values"]},
    ),
    case(
        "gt-a-string",
        with_match({"path": "/a", "gt": "3"}),
        {"source.match.gt": ["must be a number"]},
    ),
    case(
        "gte-a-boolean",
        with_match({"path": "/a", "gte": True}),
        {"source.match.gte": ["must be a number"]},
    ),
    case(
        "lt-null", with_match({"path": "/a", "lt": None}), {"source.match.lt": ["must be a number"]}
    ),
    case(
        "lte-a-list",
        with_match({"path": "/a", "lte": [1]}),
        {"source.match.lte": ["must be a number"]},
    ),
    # --- match: combinators
    case(
        "all-empty",
        with_match({"all": []}),
        {"source.match.all": ["must be a non-empty list of conditions"]},
    ),
    case(
        "any-empty",
        with_match({"any": []}),
        {"source.match.any": ["must be a non-empty list of conditions"]},
    ),
    case(
        "all-an-object",
        with_match({"all": {"path": "/a", "exists": True}}),
        {"source.match.all": ["must be a non-empty list of conditions"]},
    ),
    case(
        "combinator-with-a-sibling",
        with_match({"all": [{"path": "/a", "exists": True}], "path": "/b"}),
        {"source.match": ["a combinator ('all', 'any', 'not') stands alone in its object"]},
    ),
    case(
        "two-combinators",
        with_match(
            {"all": [{"path": "/a", "exists": True}], "any": [{"path": "/b", "exists": True}]}
        ),
        {"source.match": ["a combinator ('all', 'any', 'not') stands alone in its object"]},
    ),
    case(
        "not-a-list-inside",
        with_match({"not": []}),
        {"source.match.not": ["must be a condition object"]},
    ),
    case(
        "nested-errors-name-their-whole-path",
        with_match(
            {
                "all": [
                    {"path": "/animal/species", "equals": "dog"},
                    {"any": [{"path": "/age", "gt": 1}, {"not": {"path": "/x", "lt": "3"}}]},
                    {"path": "/animal/deleted", "exists": "no"},
                    {"any": []},
                ]
            }
        ),
        {
            "source.match.all.1.any.1.not.lt": ["must be a number"],
            "source.match.all.2.exists": ["must be true or false"],
            "source.match.all.3.any": ["must be a non-empty list of conditions"],
        },
    ),
    case(
        "too-deep",
        with_match(nested_not(MAX_DEPTH)),
        {
            "source.match" + ".not" * MAX_DEPTH: [
                f"at most {MAX_DEPTH} levels and {MAX_CONDITIONS} conditions"
            ]
        },
    ),
    case(
        "too-many-conditions",
        with_match({"any": [{"path": f"/{i}", "exists": True} for i in range(MAX_CONDITIONS)]}),
        {
            f"source.match.any.{MAX_CONDITIONS - 1}": [
                f"at most {MAX_DEPTH} levels and {MAX_CONDITIONS} conditions"
            ]
        },
    ),
    case(
        "problems-in-match-and-map-together",
        dogs({"match": {"all": []}, "map": {"colour": "/c"}, "when": "now"}),
        {
            "source.when": ["unknown key"],
            "source.match.all": ["must be a non-empty list of conditions"],
            "source.map.colour": [NOT_WRITABLE.format("colour")],
        },
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "errors"), INVALID_SOURCES)
def test_an_invalid_source_answers_400_naming_each_problem_and_creates_nothing(
    api_client, data, errors
):
    response = api_client.post(STORAGES, data, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": INVALID,
        "errors": errors,
    }
    assert StorageDefinition.objects.count() == 0
    assert storage_tables() == set()


@pytest.mark.parametrize(
    "match",
    [
        {"path": "/a", "equals": None},
        {"path": "/a", "equals": {"nested": [1, True]}},
        {"path": "", "exists": True},
        {"path": "/", "exists": True},
        {"path": "/a~0b/c~1d/~01", "in": ["x", 1, None, [1]]},
        {"path": "/n", "gt": 0},
        {"path": "/n", "gte": -1.5},
        {"path": "/n", "lt": 10**20},
        {"path": "/n", "lte": 0.0},
        {"not": {"any": [{"path": "/a", "exists": False}, {"all": [{"path": "/b", "in": [1]}]}]}},
        nested_not(MAX_DEPTH - 1),
    ],
)
def test_a_valid_match_is_kept_as_declared(match):
    normal = normalize_definition(with_match(match))

    assert normal["source"] == {"match": match, "map": {"name": "/animal/name"}}


def test_a_definition_without_source_has_none_in_its_normal_form():
    assert "source" not in normalize_definition(dogs())


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        ("", ()),
        ("/", ("",)),
        ("/animal/name", ("animal", "name")),
        ("/a~1b", ("a/b",)),
        ("/m~0n", ("m~n",)),
        ("/~01", ("~1",)),
        ("/~10", ("/0",)),
        ("/items/0", ("items", "0")),
        ("/a//b", ("a", "", "b")),
    ],
)
def test_parse_pointer_follows_rfc_6901(pointer, tokens):
    assert parse_pointer(pointer) == tokens


# --- definition time: create ---------------------------------------------------------------


@storage_db
def test_post_with_the_issues_source_answers_201_and_shows_it(api_client):
    response = api_client.post(STORAGES, dogs(DOG_SOURCE), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["source"] == DOG_SOURCE
    assert api_client.get(DOGS_URL).json()["source"] == DOG_SOURCE
    assert [(r.name, r.version) for r in route_list()] == [("dogs", 1)]


@storage_db
def test_a_storage_without_source_shows_null_and_has_no_route(api_client):
    response = api_client.post(STORAGES, dogs(), format="json")

    assert response.status_code == 201
    assert response.json()["source"] is None
    assert route_list() == []


@storage_db
@pytest.mark.parametrize("key_type", ["text", "integer", "uuid"])
def test_map_may_feed_a_natural_primary_key(api_client, key_type):
    source = {"match": {"path": "/kind", "equals": "tag"}, "map": {"tag": "/id", "name": "/n"}}
    definition = dogs(source, primary_key={"name": "tag", "type": key_type})

    response = api_client.post(STORAGES, definition, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["source"] == source


# --- definition time: new versions -----------------------------------------------------------


def put(api_client, definition: Any, version: int):
    return api_client.put(DOGS_URL, definition, format="json", HTTP_IF_MATCH=f'"{version}"')


def ddl_statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith(DDL_VERBS)]


@pytest.fixture
def plain_dogs(create_storage):
    return create_storage(dogs())


@storage_db
def test_adding_a_source_is_a_compatible_change_served_at_once_without_ddl(api_client, plain_dogs):
    with CaptureQueriesContext(connection) as queries:
        response = put(api_client, dogs(DOG_SOURCE), 1)

    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"2"'
    body = response.json()
    assert (body["version"], body["status"]) == (2, "ready")
    assert body["changes"] == [{"op": "change_source"}]
    assert body["source"] == DOG_SOURCE
    assert ddl_statements(queries) == []
    assert api_client.get("/api/v1/factory/ready_status/dogs/").json()["serving_version"] == 2
    assert [(r.name, r.version) for r in route_list()] == [("dogs", 2)]


@storage_db
def test_changing_and_then_removing_a_source_are_compatible_changes(api_client, plain_dogs):
    cats_too = copy.deepcopy(DOG_SOURCE)
    cats_too["match"]["all"][0] = {"path": "/animal/species", "in": ["dog", "cat"]}
    assert put(api_client, dogs(DOG_SOURCE), 1).status_code == 200

    changed = put(api_client, dogs(cats_too), 2)
    removed = put(api_client, dogs(), 3)

    assert changed.status_code == 200
    assert (changed.json()["changes"], changed.json()["source"]) == (
        [{"op": "change_source"}],
        cats_too,
    )
    assert removed.status_code == 200
    assert (removed.json()["version"], removed.json()["changes"]) == (4, [{"op": "change_source"}])
    assert removed.json()["source"] is None
    assert route_list() == []


@storage_db
def test_the_same_source_again_makes_no_new_version(api_client, create_storage):
    create_storage(dogs(DOG_SOURCE))

    response = put(api_client, dogs(copy.deepcopy(DOG_SOURCE)), 1)

    assert response.status_code == 200
    assert (response.json()["version"], response.json()["changes"]) == (1, [])


@storage_db
def test_an_invalid_source_in_a_new_version_answers_400_and_keeps_the_old_one(
    api_client, create_storage
):
    create_storage(dogs(DOG_SOURCE))
    bad = copy.deepcopy(DOG_SOURCE)
    bad["map"]["colour"] = "/animal/colour"
    bad["match"]["all"][1]["exists"] = "false"

    response = put(api_client, dogs(bad), 1)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "source.match.all.1.exists": ["must be true or false"],
        "source.map.colour": [NOT_WRITABLE.format("colour")],
    }
    assert api_client.get(DOGS_URL).json()["source"] == DOG_SOURCE


@storage_db
def test_a_source_may_map_a_field_added_in_the_same_version(api_client, plain_dogs):
    definition = dogs(DOG_SOURCE)
    definition["fields"].append({"name": "colour", "type": "text"})
    definition["source"] = {**DOG_SOURCE, "map": {**DOG_SOURCE["map"], "colour": "/colour"}}

    response = put(api_client, definition, 1)

    assert response.status_code == 202, response.json()
    assert [change["op"] for change in response.json()["changes"]] == [
        "change_source",
        "add_field",
    ]
