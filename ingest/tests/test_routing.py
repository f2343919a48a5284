"""Routing in isolation: JSON Pointer resolution, match predicates and projection (no DB)."""

from __future__ import annotations

from typing import Any

import pytest

from factory.schema.source import parse_pointer
from ingest.routing import MISSING, compile_match, compile_route, resolve

EVENT = {
    "animal": {
        "species": "dog",
        "name": "Rex",
        "age_years": 3,
        "details": {"breed": "beagle", "tags": ["good", "loud"]},
        "deleted": None,
    },
    "meta": {"created": "2024-05-01T12:00:00Z"},
    "a/b": 1,
    "m~n": 2,
    "": "empty key",
    "items": [{"id": 10}, {"id": 11}, {"id": 12}],
    "flag": True,
    "zero": 0,
}


def at(pointer: str, document: Any = EVENT) -> Any:
    return resolve(document, parse_pointer(pointer))


def matches(match: dict[str, Any], event: Any) -> bool:
    return compile_match(match)(event)


# --- resolve -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("", EVENT),
        ("/animal/name", "Rex"),
        ("/animal/details/breed", "beagle"),
        ("/animal/deleted", None),
        ("/animal/details/tags", ["good", "loud"]),
        ("/animal/details/tags/1", "loud"),
        ("/items/0/id", 10),
        ("/items/2/id", 12),
        ("/a~1b", 1),
        ("/m~0n", 2),
        ("/", "empty key"),
        ("/flag", True),
        ("/zero", 0),
    ],
)
def test_resolve_finds_the_value_a_pointer_names(pointer, value):
    assert at(pointer) == value


@pytest.mark.parametrize(
    "pointer",
    [
        "/nothing",
        "/animal/colour",
        "/animal/name/first",  # into a string
        "/animal/age_years/0",  # into a number
        "/animal/deleted/x",  # into null
        "/items/3",  # past the end
        "/items/-",  # RFC 6901's "after the last element" names nothing to read
        "/items/01",  # leading zeros are not array indexes
        "/items/-1",
        "/items/1.0",
        "/items/id",
        "/items/\u00b2",  # Unicode digits are no array indexes (RFC 6901: %x30-39 only)
        "/items/\u0661",
        "/a/b",  # "/a/b" is two steps; the key "a/b" is /a~1b
    ],
)
def test_resolve_answers_missing_for_paths_that_lead_nowhere(pointer):
    assert at(pointer) is MISSING


def test_resolve_treats_digit_keys_of_objects_as_keys():
    assert at("/0", {"0": "zero", "1": "one"}) == "zero"
    assert at("/01", {"01": "leading zero"}) == "leading zero"
    assert at("/0", {"1": "one"}) is MISSING


def test_resolve_walks_arrays_at_the_top():
    assert at("/1/name", [{"name": "a"}, {"name": "b"}]) == "b"
    assert at("/2", [1, 2]) is MISSING


@pytest.mark.parametrize("document", ["dog", 3, None, True])
def test_resolve_of_a_scalar_event_is_missing_below_the_root(document):
    assert at("/animal", document) is MISSING
    assert at("", document) == document


# --- equals and in -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operand", "value", "expected"),
    [
        ("dog", "dog", True),
        ("dog", "Dog", False),
        (1, 1, True),
        (1, 1.0, True),  # one JSON number
        (True, True, True),
        (True, 1, False),  # true is not 1
        (1, True, False),
        (False, 0, False),
        (0, False, False),
        (None, None, True),
        (None, False, False),
        ("1", 1, False),
        ([1, 2], [1, 2], True),
        ([1, 2], [2, 1], False),
        ([1], [True], False),  # strict inside arrays too
        ({"a": 1}, {"a": 1.0}, True),
        ({"a": 1}, {"a": True}, False),  # and inside objects
        ({"a": [0]}, {"a": [False]}, False),
        ({"a": 1}, {"a": 1, "b": 2}, False),
    ],
)
def test_equals_is_strict_json_equality(operand, value, expected):
    assert matches({"path": "/v", "equals": operand}, {"v": value}) is expected


def test_equals_null_needs_a_present_null():
    assert matches({"path": "/v", "equals": None}, {"v": None}) is True
    assert matches({"path": "/v", "equals": None}, {}) is False


def test_in_holds_when_the_value_equals_one_of_the_options():
    condition = {"path": "/animal/species", "in": ["cat", "dog", None]}

    assert matches(condition, EVENT) is True
    assert matches(condition, {"animal": {"species": "cow"}}) is False
    assert matches(condition, {"animal": {"species": None}}) is True
    assert matches(condition, {"animal": {}}) is False


def test_in_is_strict_too():
    assert matches({"path": "/v", "in": [1, 2]}, {"v": True}) is False
    assert matches({"path": "/v", "in": [True]}, {"v": 1}) is False
    assert matches({"path": "/v", "in": [[1], "x"]}, {"v": [1.0]}) is True
    assert matches({"path": "/v", "in": [[1]]}, {"v": [True]}) is False


# --- exists --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pointer", "present"),
    [
        ("/animal/deleted", True),  # null is a value
        ("/zero", True),
        ("/flag", True),
        ("/items/1", True),
        ("/items/5", False),
        ("/animal/colour", False),
        ("/nothing/deeper", False),
    ],
)
def test_exists_true_and_false_are_opposites(pointer, present):
    assert matches({"path": pointer, "exists": True}, EVENT) is present
    assert matches({"path": pointer, "exists": False}, EVENT) is not present


# --- numeric comparisons -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "operand", "value", "expected"),
    [
        ("gt", 3, 4, True),
        ("gt", 3, 3, False),
        ("gte", 3, 3, True),
        ("gte", 3, 2.99, False),
        ("lt", 3, 2, True),
        ("lt", 3, 3, False),
        ("lte", 3, 3.0, True),
        ("lte", 3, 3.01, False),
        ("gt", 0.5, 1, True),
        ("lt", -1, -2, True),
        ("gt", 10**20, 10**20 + 1, True),
    ],
)
def test_comparisons_compare_numbers(operator, operand, value, expected):
    assert matches({"path": "/n", operator: operand}, {"n": value}) is expected


@pytest.mark.parametrize("value", ["5", True, False, None, [5], {"n": 5}])
@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte"])
def test_comparisons_never_hold_for_what_is_not_a_number(operator, value):
    # Booleans are not numbers, even though Python says True > 0.
    assert matches({"path": "/n", operator: 0}, {"n": value}) is False
    assert matches({"path": "/n", operator: 10}, {"n": value}) is False


@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte"])
def test_comparisons_do_not_hold_on_a_missing_path(operator):
    assert matches({"path": "/n", operator: 0}, {}) is False


# --- all, any, not -------------------------------------------------------------------------

DOG = {"path": "/animal/species", "equals": "dog"}
CAT = {"path": "/animal/species", "equals": "cat"}
ALIVE = {"path": "/animal/deleted", "exists": False}
YOUNG = {"path": "/animal/age_years", "lt": 2}


def animal(species: str, age: int, **extra: Any) -> dict[str, Any]:
    return {"animal": {"species": species, "age_years": age, **extra}}


@pytest.mark.parametrize(
    ("match", "event", "expected"),
    [
        ({"all": [DOG, ALIVE]}, animal("dog", 3), True),
        ({"all": [DOG, ALIVE]}, animal("dog", 3, deleted=True), False),
        ({"all": [DOG, ALIVE]}, animal("dog", 3, deleted=None), False),
        ({"all": [DOG, ALIVE]}, animal("cat", 3), False),
        ({"any": [DOG, CAT]}, animal("cat", 3), True),
        ({"any": [DOG, CAT]}, animal("cow", 3), False),
        ({"not": DOG}, animal("cat", 3), True),
        ({"not": DOG}, animal("dog", 3), False),
        ({"not": DOG}, {}, True),
        ({"all": [DOG]}, animal("dog", 1), True),
        ({"any": [DOG]}, animal("cat", 1), False),
        ({"all": [{"any": [DOG, CAT]}, {"not": YOUNG}]}, animal("cat", 5), True),
        ({"all": [{"any": [DOG, CAT]}, {"not": YOUNG}]}, animal("cat", 1), False),
        ({"all": [{"any": [DOG, CAT]}, {"not": YOUNG}]}, animal("cow", 5), False),
        ({"any": [{"all": [DOG, YOUNG]}, {"all": [CAT, {"not": YOUNG}]}]}, animal("dog", 1), True),
        ({"any": [{"all": [DOG, YOUNG]}, {"all": [CAT, {"not": YOUNG}]}]}, animal("dog", 4), False),
        ({"any": [{"all": [DOG, YOUNG]}, {"all": [CAT, {"not": YOUNG}]}]}, animal("cat", 4), True),
        ({"not": {"not": {"not": DOG}}}, animal("dog", 1), False),
    ],
)
def test_combinators_nest(match, event, expected):
    assert matches(match, event) is expected


@pytest.mark.parametrize("event", ["dog", 7, None, [1, 2], True])
def test_an_event_that_is_not_an_object_matches_no_path(event):
    assert matches(DOG, event) is False
    assert matches({"path": "/animal", "exists": False}, event) is True


# --- routes and projection -----------------------------------------------------------------

DOG_SOURCE = {
    "match": {"all": [DOG, ALIVE]},
    "map": {
        "name": "/animal/name",
        "age": "/animal/age_years",
        "breed": "/animal/details/breed",
        "registered_at": "/meta/created",
    },
}


def dog_route():
    return compile_route(storage_id=1, name="dogs", version=2, source=DOG_SOURCE)


def test_a_route_projects_exactly_the_mapped_fields():
    route = dog_route()

    assert (route.name, route.version, route.storage_id) == ("dogs", 2, 1)
    assert route.matches({"animal": {"species": "dog"}}) is True
    assert route.project(EVENT) == {
        "name": "Rex",
        "age": 3,
        "breed": "beagle",
        "registered_at": "2024-05-01T12:00:00Z",
    }


def test_projection_leaves_missing_paths_out_so_defaults_apply():
    event = {"animal": {"species": "dog", "name": "Ghost", "details": {}}}

    assert dog_route().project(event) == {"name": "Ghost"}


def test_projection_keeps_present_nulls_and_whole_subtrees():
    route = compile_route(
        storage_id=1,
        name="raw",
        version=1,
        source={
            "match": {"path": "", "exists": True},
            "map": {"deleted": "/animal/deleted", "details": "/animal/details", "all": ""},
        },
    )

    assert route.project(EVENT) == {
        "deleted": None,
        "details": {"breed": "beagle", "tags": ["good", "loud"]},
        "all": EVENT,
    }


def test_projection_of_an_event_that_is_not_an_object_is_empty():
    assert dog_route().project(["not", "an", "object"]) == {}
