"""factory.schema.changes: what changed between two versions, and whether it is compatible.

Pure unit tests: both sides go through normalize_definition, as version_declare does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from factory.schema.changes import Diff, diff_definitions
from factory.schema.definition import normalize_definition

BASE: dict[str, Any] = {
    "name": "things",
    "description": "Things we keep",
    "fields": [
        {"name": "title", "type": "text", "max_length": 50, "required": True},
        {"name": "rank", "type": "integer", "min": 0, "max": 10},
        {"name": "colour", "type": "text", "choices": ["red", "green"]},
        {
            "name": "price",
            "type": "decimal",
            "max_digits": 6,
            "decimal_places": 2,
            "min": "0.00",
            "max": "100.00",
        },
        {"name": "note", "type": "text", "nullable": False, "default": "none"},
        {"name": "born", "type": "date"},
        {"name": "body", "type": "text"},
        {"name": "score", "type": "float"},
        {"name": "mood", "type": "text", "default": "calm"},
    ],
    "indexes": [{"fields": ["title"]}, {"fields": ["rank", "born"], "unique": True}],
}

Mutation = Callable[[dict[str, Any]], None]
_DROP = object()  # set_options(..., option=_DROP) removes the option


def diff_after(mutate: Mutation) -> Diff:
    new = copy.deepcopy(BASE)
    mutate(new)
    return diff_definitions(normalize_definition(BASE), normalize_definition(new))


def field(definition: dict[str, Any], name: str) -> dict[str, Any]:
    return next(spec for spec in definition["fields"] if spec["name"] == name)


def set_options(name: str, /, **options: Any) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        spec = field(definition, name)
        for option, value in options.items():
            if value is _DROP:
                spec.pop(option)
            else:
                spec[option] = value

    return mutate


def add_field(**spec: Any) -> Mutation:
    return lambda definition: definition["fields"].append(spec)


def remove_field(name: str) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        definition["fields"] = [s for s in definition["fields"] if s["name"] != name]

    return mutate


# --- allowed changes ---------------------------------------------------------------------

ALLOWED: list[Any] = [
    pytest.param(
        add_field(name="weight", type="float"),
        [
            {
                "op": "add_field",
                "field": "weight",
                "definition": {
                    "name": "weight",
                    "type": "float",
                    "required": False,
                    "nullable": True,
                },
            }
        ],
        True,
        id="add-nullable-field",
    ),
    pytest.param(
        add_field(name="color", type="text", nullable=False, default="unknown"),
        [
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
            }
        ],
        True,
        id="add-non-nullable-field-with-default",
    ),
    pytest.param(
        add_field(name="kind", type="text", required=True, default="dog"),
        [
            {
                "op": "add_field",
                "field": "kind",
                "definition": {
                    "name": "kind",
                    "type": "text",
                    "required": True,
                    "nullable": False,
                    "default": "dog",
                },
            }
        ],
        True,
        id="add-required-field-with-default",
    ),
    pytest.param(
        lambda d: d["indexes"].append({"fields": ["colour"]}),
        [{"op": "add_index", "index": {"fields": ["colour"], "type": "btree", "unique": False}}],
        True,
        id="add-index",
    ),
    pytest.param(
        lambda d: d["indexes"].append({"fields": ["body"], "unique": True}),
        [{"op": "add_index", "index": {"fields": ["body"], "type": "btree", "unique": True}}],
        True,
        id="add-unique-index",
    ),
    pytest.param(
        lambda d: d["indexes"].pop(0),
        [{"op": "drop_index", "index": {"fields": ["title"], "type": "btree", "unique": False}}],
        True,
        id="drop-index",
    ),
    pytest.param(
        lambda d: d["indexes"].pop(1),
        [
            {
                "op": "drop_index",
                "index": {"fields": ["rank", "born"], "type": "btree", "unique": True},
            }
        ],
        True,
        id="drop-unique-index",
    ),
    pytest.param(
        lambda d: d.update(description="Things we keep, and more"),
        [{"op": "change_description"}],
        False,
        id="change-description",
    ),
    pytest.param(
        set_options("note", default="n/a"),
        [{"op": "change_default", "field": "note", "default": ["none", "n/a"]}],
        False,
        id="change-default",
    ),
    pytest.param(
        set_options("rank", default=5),
        [{"op": "change_default", "field": "rank", "default": [None, 5]}],
        False,
        id="give-a-default",
    ),
    pytest.param(
        set_options("mood", default=_DROP),
        [{"op": "change_default", "field": "mood", "default": ["calm", None]}],
        False,
        id="drop-the-default-of-a-nullable-field",
    ),
    pytest.param(
        set_options("title", max_length=80),
        [{"op": "relax_field", "field": "title", "options": {"max_length": [50, 80]}}],
        True,
        id="raise-max-length",
    ),
    pytest.param(
        set_options("title", max_length=_DROP),
        [{"op": "relax_field", "field": "title", "options": {"max_length": [50, None]}}],
        True,
        id="drop-max-length",
    ),
    pytest.param(
        set_options("rank", min=-5),
        [{"op": "relax_field", "field": "rank", "options": {"min": [0, -5]}}],
        True,
        id="lower-min",
    ),
    pytest.param(
        set_options("rank", max=20),
        [{"op": "relax_field", "field": "rank", "options": {"max": [10, 20]}}],
        True,
        id="raise-max",
    ),
    pytest.param(
        set_options("rank", min=_DROP, max=_DROP),
        [{"op": "relax_field", "field": "rank", "options": {"min": [0, None], "max": [10, None]}}],
        True,
        id="drop-bounds",
    ),
    pytest.param(
        set_options("price", min="-1.50", max="1000"),
        [
            {
                "op": "relax_field",
                "field": "price",
                "options": {"min": ["0.00", "-1.50"], "max": ["100.00", "1000.00"]},
            }
        ],
        True,
        id="widen-decimal-bounds",
    ),
    pytest.param(
        set_options("colour", choices=["red", "green", "blue"]),
        [
            {
                "op": "relax_field",
                "field": "colour",
                "options": {"choices": [["red", "green"], ["red", "green", "blue"]]},
            }
        ],
        True,
        id="add-choices",
    ),
    pytest.param(
        set_options("colour", choices=_DROP),
        [
            {
                "op": "relax_field",
                "field": "colour",
                "options": {"choices": [["red", "green"], None]},
            }
        ],
        True,
        id="drop-choices",
    ),
    pytest.param(
        set_options("title", required=False, nullable=False),
        [{"op": "relax_field", "field": "title", "options": {"required": [True, False]}}],
        False,  # enforced by the API only: the column stays NOT NULL
        id="make-not-required",
    ),
    pytest.param(
        set_options("note", nullable=True),
        [{"op": "relax_field", "field": "note", "options": {"nullable": [False, True]}}],
        True,
        id="make-nullable",
    ),
    pytest.param(
        set_options("title", required=False),
        [
            {
                "op": "relax_field",
                "field": "title",
                "options": {"required": [True, False], "nullable": [False, True]},
            }
        ],
        True,
        id="make-optional-and-nullable",
    ),
]


@pytest.mark.parametrize(("mutate", "changes", "needs_ddl"), ALLOWED)
def test_allowed_change_is_listed_and_compatible(mutate, changes, needs_ddl):
    diff = diff_after(mutate)

    assert diff.incompatible == {}
    assert diff.changes == changes
    assert diff.needs_ddl is needs_ddl


def test_several_allowed_changes_are_all_listed():
    def mutate(definition: dict[str, Any]) -> None:
        definition["description"] = "Other"
        definition["fields"].append({"name": "color", "type": "text", "default": "unknown"})
        definition["indexes"] = [{"fields": ["color"]}, *definition["indexes"][1:]]

    diff = diff_after(mutate)

    assert diff.incompatible == {}
    assert [change["op"] for change in diff.changes] == [
        "change_description",
        "add_field",
        "add_index",
        "drop_index",
    ]
    assert diff.needs_ddl is True


# --- no change at all --------------------------------------------------------------------


def test_identical_definition_has_no_changes():
    diff = diff_after(lambda d: None)

    assert (diff.changes, diff.incompatible, diff.needs_ddl) == ([], {}, False)


def test_order_of_indexes_does_not_matter():
    diff = diff_after(lambda d: d["indexes"].reverse())

    assert (diff.changes, diff.incompatible) == ([], {})


def test_options_spelled_out_with_their_defaults_are_no_change():
    def mutate(definition: dict[str, Any]) -> None:
        definition["primary_key"] = {"name": "id", "type": "serial"}
        set_options("rank", required=False, nullable=True)(definition)
        definition["indexes"][0].update(type="btree", unique=False)

    diff = diff_after(mutate)

    assert (diff.changes, diff.incompatible) == ([], {})


# --- refused changes ---------------------------------------------------------------------

REFUSED: list[Any] = [
    pytest.param(
        remove_field("score"),
        {"fields": ["field 'score' cannot be removed or renamed"]},
        id="remove-field",
    ),
    pytest.param(
        set_options("body", name="text_body"),
        {"fields": ["field 'body' cannot be removed or renamed"]},
        id="rename-field",
    ),
    pytest.param(
        set_options("rank", type="float"),
        {"fields.1.type": ["the type cannot change (integer -> float)"]},
        id="change-type",
    ),
    pytest.param(
        lambda d: d.update(primary_key={"name": "id", "type": "uuid"}),
        {"primary_key": ["the primary key cannot change"]},
        id="change-primary-key-type",
    ),
    pytest.param(
        lambda d: d.update(primary_key={"name": "key", "type": "serial"}),
        {"primary_key": ["the primary key cannot change"]},
        id="rename-primary-key",
    ),
    pytest.param(
        set_options("title", max_length=20),
        {"fields.0.max_length": ["max_length can only be raised"]},
        id="lower-max-length",
    ),
    pytest.param(
        set_options("body", max_length=500),
        {"fields.6.max_length": ["max_length can only be raised"]},
        id="bound-unbounded-text",
    ),
    pytest.param(
        set_options("rank", min=1),
        {"fields.1.min": ["min can only be lowered"]},
        id="raise-min",
    ),
    pytest.param(
        set_options("rank", max=9),
        {"fields.1.max": ["max can only be raised"]},
        id="lower-max",
    ),
    pytest.param(
        set_options("price", min="0.01", max="99.99"),
        {
            "fields.3.min": ["min can only be lowered"],
            "fields.3.max": ["max can only be raised"],
        },
        id="narrow-decimal-bounds",
    ),
    pytest.param(
        set_options("body", choices=["a", "b"]),
        {"fields.6.choices": ["choices can only gain values"]},
        id="add-choices-to-a-free-field",
    ),
    pytest.param(
        set_options("score", min=0),
        {"fields.7.min": ["min can only be lowered"]},
        id="add-min-to-an-unbounded-field",
    ),
    pytest.param(
        set_options("score", max=100),
        {"fields.7.max": ["max can only be raised"]},
        id="add-max-to-an-unbounded-field",
    ),
    pytest.param(
        set_options("price", max=_DROP, min="1.00"),
        {"fields.3.min": ["min can only be lowered"]},
        id="raise-min-while-dropping-max",
    ),
    pytest.param(
        set_options("note", default=_DROP),
        {"fields.4.default": ["the default of a non-nullable field cannot be removed"]},
        id="drop-the-default-of-a-non-nullable-field",
    ),
    pytest.param(
        set_options("colour", choices=["red"]),
        {"fields.2.choices": ["choices can only gain values"]},
        id="remove-a-choice",
    ),
    pytest.param(
        set_options("colour", choices=["red", "blue"]),
        {"fields.2.choices": ["choices can only gain values"]},
        id="replace-a-choice",
    ),
    pytest.param(
        set_options("rank", required=True, nullable=True),
        {"fields.1.required": ["cannot be tightened"]},
        id="make-required",
    ),
    pytest.param(
        set_options("born", nullable=False, default="2000-01-01"),
        {"fields.5.nullable": ["cannot be tightened"]},
        id="make-not-nullable",
    ),
    pytest.param(
        add_field(name="owner", type="text", required=True),
        {"fields.9": ["a new required field needs a default"]},
        id="add-required-field-without-default",
    ),
    pytest.param(
        add_field(name="owner", type="text", nullable=False),
        {"fields.9": ["a new field must be nullable or have a default"]},
        id="add-non-nullable-field-without-default",
    ),
    pytest.param(
        set_options("price", max_digits=8),
        {"fields.3.max_digits": ["max_digits cannot change"]},
        id="raise-decimal-digits",
    ),
    pytest.param(
        set_options("price", max_digits=5),
        {"fields.3.max_digits": ["max_digits cannot change"]},
        id="lower-decimal-digits",
    ),
    pytest.param(
        set_options("price", decimal_places=3),
        {"fields.3.decimal_places": ["decimal_places cannot change"]},
        id="change-decimal-places",
    ),
]


@pytest.mark.parametrize(("mutate", "incompatible"), REFUSED)
def test_refused_change_is_reported_at_its_path(mutate, incompatible):
    diff = diff_after(mutate)

    assert diff.incompatible == incompatible


def test_every_offending_change_has_its_own_entry():
    def mutate(definition: dict[str, Any]) -> None:
        remove_field("body")(definition)
        set_options("born", type="datetime")(definition)
        set_options("title", max_length=10)(definition)
        set_options("colour", choices=["red"])(definition)
        definition["fields"].append({"name": "owner", "type": "text", "required": True})
        definition["primary_key"] = {"name": "id", "type": "uuid"}

    diff = diff_after(mutate)

    assert diff.incompatible == {
        "primary_key": ["the primary key cannot change"],
        "fields": ["field 'body' cannot be removed or renamed"],
        "fields.5.type": ["the type cannot change (date -> datetime)"],
        "fields.0.max_length": ["max_length can only be raised"],
        "fields.2.choices": ["choices can only gain values"],
        "fields.8": ["a new required field needs a default"],
    }


def test_refusal_paths_follow_the_new_definitions_positions():
    def mutate(definition: dict[str, Any]) -> None:
        definition["fields"].reverse()
        set_options("rank", max=1)(definition)

    diff = diff_after(mutate)

    assert diff.incompatible == {"fields.7.max": ["max can only be raised"]}


def test_compatible_changes_are_still_listed_beside_refused_ones():
    def mutate(definition: dict[str, Any]) -> None:
        definition["description"] = "Other"
        remove_field("body")(definition)

    diff = diff_after(mutate)

    assert diff.changes == [{"op": "change_description"}]
    assert diff.incompatible == {"fields": ["field 'body' cannot be removed or renamed"]}
