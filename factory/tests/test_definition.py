"""factory.schema.definition: validation of a storage definition and its normal form."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ValidationFailed
from factory.schema.definition import normalize_definition
from factory.tests.factories import dogs_definition
from factory.tests.invalid_definitions import (
    INVALID_DEFINITIONS,
    definition,
    with_field,
    with_index,
)


def errors_of(data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as info:
        normalize_definition(data)
    return info.value.errors


def only_field(data: dict[str, Any]) -> dict[str, Any]:
    return normalize_definition(data)["fields"][0]


# --- bad definitions ---------------------------------------------------------------------


@pytest.mark.parametrize(("data", "errors"), INVALID_DEFINITIONS)
def test_invalid_definition_is_refused_with_errors_at_their_paths(data, errors):
    with pytest.raises(ValidationFailed) as info:
        normalize_definition(data)

    assert info.value.errors == errors
    assert info.value.detail == "The storage definition is invalid; see errors."


@pytest.mark.parametrize("data", [["name", "things"], "things", 7, None])
def test_definition_that_is_not_an_object_is_refused(data):
    assert errors_of(data) == {"non_field_errors": ["A definition must be a JSON object."]}


def test_more_fields_than_the_limit_are_refused(settings):
    settings.MAX_FIELDS_PER_STORAGE = 3
    fields = [{"name": f"f{i}", "type": "text"} for i in range(4)]

    assert errors_of(definition(fields=fields)) == {
        "fields": ["at most 3 fields are allowed; got 4"]
    }


def test_exactly_the_limit_of_fields_is_accepted(settings):
    settings.MAX_FIELDS_PER_STORAGE = 3
    fields = [{"name": f"f{i}", "type": "text"} for i in range(3)]

    assert len(normalize_definition(definition(fields=fields))["fields"]) == 3


def test_default_limit_is_500_fields():
    fields = [{"name": f"f{i}", "type": "integer"} for i in range(501)]

    assert errors_of(definition(fields=fields)) == {
        "fields": ["at most 500 fields are allowed; got 501"]
    }
    assert len(normalize_definition(definition(fields=fields[:500]))["fields"]) == 500


def test_index_problems_are_reported_only_once_the_fields_are_valid():
    data = definition(
        fields=[{"name": "title", "type": "strnig"}], indexes=[{"fields": ["nowhere"]}]
    )

    assert set(errors_of(data)) == {"fields.0.type"}


# --- normal form -------------------------------------------------------------------------


def test_minimal_definition_takes_every_default():
    assert normalize_definition({"name": "things", "fields": [{"name": "a", "type": "text"}]}) == {
        "name": "things",
        "description": "",
        "primary_key": {"name": "id", "type": "serial"},
        "fields": [{"name": "a", "type": "text", "required": False, "nullable": True}],
        "indexes": [],
    }


def test_readme_example_has_this_normal_form():
    assert normalize_definition(dogs_definition()) == {
        "name": "dogs",
        "description": "Dogs out of the animal registry feed",
        "primary_key": {"name": "id", "type": "serial"},
        "fields": [
            {
                "name": "name",
                "type": "text",
                "required": True,
                "nullable": False,
                "max_length": 120,
            },
            {"name": "breed", "type": "text", "required": False, "nullable": True},
            {
                "name": "age",
                "type": "integer",
                "required": False,
                "nullable": True,
                "min": 0,
                "max": 40,
                "default": 0,
            },
            {
                "name": "weight_kg",
                "type": "decimal",
                "required": False,
                "nullable": True,
                "max_digits": 6,
                "decimal_places": 2,
            },
            {
                "name": "vaccinated",
                "type": "boolean",
                "required": False,
                "nullable": True,
                "default": False,
            },
            {"name": "born", "type": "date", "required": False, "nullable": True},
            {"name": "registered_at", "type": "datetime", "required": True, "nullable": False},
            {"name": "chip", "type": "uuid", "required": False, "nullable": True},
            {
                "name": "size",
                "type": "text",
                "required": False,
                "nullable": True,
                "choices": ["small", "medium", "large"],
            },
            {"name": "extra", "type": "json", "required": False, "nullable": True},
        ],
        "indexes": [
            {"fields": ["breed"], "type": "btree", "unique": False},
            {"fields": ["name", "born"], "type": "btree", "unique": True},
        ],
    }


def test_normal_form_is_its_own_normal_form():
    normal = normalize_definition(dogs_definition())

    assert normalize_definition(normal) == normal


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, {"required": False, "nullable": True}),
        ({"required": True}, {"required": True, "nullable": False}),
        ({"required": True, "nullable": True}, {"required": True, "nullable": True}),
        ({"nullable": False}, {"required": False, "nullable": False}),
    ],
)
def test_nullable_defaults_to_the_opposite_of_required(flags, expected):
    field = only_field(with_field(name="t", type="text", **flags))

    assert (field["required"], field["nullable"]) == (expected["required"], expected["nullable"])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"type": "integer", "min": -5, "max": 5, "choices": [1, 2], "default": 2},
            {"min": -5, "max": 5, "choices": [1, 2], "default": 2},
        ),
        (
            {"type": "float", "min": 0, "max": 2, "choices": [1, 1.5], "default": 1},
            {"min": 0.0, "max": 2.0, "choices": [1.0, 1.5], "default": 1.0},
        ),
        (
            {
                "type": "decimal",
                "max_digits": 5,
                "decimal_places": 2,
                "min": 0,
                "max": "100.5",
                "choices": [1, "2.5"],
                "default": 1,
            },
            {
                "max_digits": 5,
                "decimal_places": 2,
                "min": "0.00",
                "max": "100.50",
                "choices": ["1.00", "2.50"],
                "default": "1.00",
            },
        ),
        ({"type": "boolean", "default": True}, {"default": True}),
        (
            {"type": "text", "max_length": 5, "choices": ["a", "it's"], "default": "a"},
            {"max_length": 5, "choices": ["a", "it's"], "default": "a"},
        ),
        (
            {"type": "date", "choices": ["2024-01-31"], "default": "2024-01-31"},
            {"choices": ["2024-01-31"], "default": "2024-01-31"},
        ),
        (
            {"type": "datetime", "default": "2024-05-01T12:00:00+02:00"},
            {"default": "2024-05-01T10:00:00Z"},
        ),
        (
            {
                "type": "uuid",
                "choices": ["12345678123456781234567812345678"],
                "default": "12345678-1234-5678-1234-567812345678",
            },
            {
                "choices": ["12345678-1234-5678-1234-567812345678"],
                "default": "12345678-1234-5678-1234-567812345678",
            },
        ),
        (
            {"type": "json", "default": {"tags": ["a"], "n": 1}},
            {"default": {"tags": ["a"], "n": 1}},
        ),
    ],
    ids=lambda value: value.get("type", "") if isinstance(value, dict) else "",
)
def test_each_field_type_keeps_its_options_in_canonical_form(spec, expected):
    field = only_field(with_field(name="v", **spec))

    assert field == {
        "name": "v",
        "type": spec["type"],
        "required": False,
        "nullable": True,
        **expected,
    }


def test_options_given_as_null_are_left_out():
    field = only_field(
        with_field(name="t", type="text", max_length=None, choices=None, required=False)
    )

    assert field == {"name": "t", "type": "text", "required": False, "nullable": True}


def test_default_null_is_kept_on_a_nullable_field():
    assert only_field(with_field(name="t", type="text", default=None))["default"] is None


def test_description_null_becomes_empty():
    assert normalize_definition(definition(description=None))["description"] == ""


@pytest.mark.parametrize("pk_type", ["serial", "uuid", "integer", "text"])
def test_each_primary_key_type_is_accepted(pk_type):
    data = definition(primary_key={"name": "key", "type": pk_type})

    assert normalize_definition(data)["primary_key"] == {"name": "key", "type": pk_type}


def test_primary_key_defaults_its_missing_parts():
    assert normalize_definition(definition(primary_key={"type": "uuid"}))["primary_key"] == {
        "name": "id",
        "type": "uuid",
    }
    assert normalize_definition(definition(primary_key={"name": "code"}))["primary_key"] == {
        "name": "code",
        "type": "serial",
    }


def test_names_of_50_characters_are_accepted():
    name = "a" * 50
    normal = normalize_definition(definition(name=name, fields=[{"name": name, "type": "text"}]))

    assert (normal["name"], normal["fields"][0]["name"]) == (name, name)


def test_a_field_may_reuse_the_default_primary_key_name_when_the_key_is_renamed():
    data = definition(
        primary_key={"name": "code", "type": "text"}, fields=[{"name": "id", "type": "integer"}]
    )

    assert [f["name"] for f in normalize_definition(data)["fields"]] == ["id"]


def test_index_defaults_to_a_non_unique_btree_and_keeps_field_order():
    indexes = normalize_definition(
        with_index({"fields": ["age", "title"]}, {"fields": ["title"], "unique": True})
    )["indexes"]

    assert indexes == [
        {"fields": ["age", "title"], "type": "btree", "unique": False},
        {"fields": ["title"], "type": "btree", "unique": True},
    ]


def test_system_columns_can_be_indexed():
    indexes = normalize_definition(
        with_index({"fields": ["_updated_at"]}, {"fields": ["_version", "age"]})
    )["indexes"]

    assert [index["fields"] for index in indexes] == [["_updated_at"], ["_version", "age"]]


def test_indexes_null_is_refused():
    assert errors_of({**definition(), "indexes": None}) == {
        "indexes": ["must be a list of index objects"]
    }


# --- index types by database -------------------------------------------------------------

FITS = {
    "integer": {"btree", "hash", "brin"},
    "float": {"btree", "hash", "brin"},
    "decimal": {"btree", "hash", "brin"},
    "boolean": {"btree", "hash"},
    "text": {"btree", "hash"},
    "date": {"btree", "hash", "brin"},
    "datetime": {"btree", "hash", "brin"},
    "uuid": {"btree", "hash"},
    "json": {"gin"},
}


def _one_field_index(field_type: str, index_type: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "v", "type": field_type}
    if field_type == "decimal":
        spec.update(max_digits=6, decimal_places=2)
    return definition(fields=[spec], indexes=[{"fields": ["v"], "type": index_type}])


@pytest.mark.postgresql
@pytest.mark.parametrize("field_type", sorted(FITS))
@pytest.mark.parametrize("index_type", ["btree", "hash", "gin", "brin"])
def test_index_type_is_accepted_only_on_fields_it_fits(field_type, index_type):
    data = _one_field_index(field_type, index_type)

    if index_type in FITS[field_type]:
        assert normalize_definition(data)["indexes"] == [
            {"fields": ["v"], "type": index_type, "unique": False}
        ]
    else:
        assert errors_of(data) == {
            "indexes.0.type": [f"a {index_type} index does not fit field 'v' of type {field_type}"]
        }


@pytest.mark.postgresql
def test_hash_index_covers_exactly_one_field():
    assert errors_of(with_index({"fields": ["age", "title"], "type": "hash"})) == {
        "indexes.0.fields": ["a hash index covers exactly one field"]
    }


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("field", "index_type"), [("age", "hash"), ("age", "brin"), ("data", "gin")]
)
def test_only_btree_indexes_can_be_unique(field, index_type):
    data = with_index({"fields": [field], "type": index_type, "unique": True})

    assert errors_of(data) == {"indexes.0.unique": ["only btree indexes can be unique"]}


@pytest.mark.postgresql
def test_multi_column_brin_index_is_accepted():
    data = definition(
        fields=[{"name": "a", "type": "integer"}, {"name": "b", "type": "date"}],
        indexes=[{"fields": ["a", "b"], "type": "brin"}],
    )

    assert normalize_definition(data)["indexes"] == [
        {"fields": ["a", "b"], "type": "brin", "unique": False}
    ]


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("field", "index_type"), [("age", "hash"), ("age", "brin"), ("data", "gin")]
)
def test_postgresql_only_index_type_is_refused_on_sqlite(field, index_type):
    assert errors_of(with_index({"fields": [field], "type": index_type})) == {
        "indexes.0.type": [f"{index_type} indexes need PostgreSQL; this service runs on sqlite"]
    }


@pytest.mark.sqlite
def test_unique_hash_index_on_sqlite_names_both_problems():
    assert errors_of(with_index({"fields": ["age"], "type": "hash", "unique": True})) == {
        "indexes.0.unique": ["only btree indexes can be unique"],
        "indexes.0.type": ["hash indexes need PostgreSQL; this service runs on sqlite"],
    }


# --- distribution (tests/cluster has it on a Citus cluster) ----------------------------------


@pytest.mark.django_db
@pytest.mark.without_citus
def test_distribution_without_citus_is_refused_naming_the_extension():
    with pytest.raises(ValidationFailed) as raised:
        normalize_definition(dogs_definition(indexes=[], distribution={"shards": 4}))

    (message,) = raised.value.errors["distribution"]
    assert "citus extension" in message


@pytest.mark.django_db
@pytest.mark.parametrize("shards", [0, -1, 1025, "4", True, None, 2.5])
def test_a_shard_count_must_be_an_integer_in_range(shards):
    with pytest.raises(ValidationFailed) as raised:
        normalize_definition(dogs_definition(indexes=[], distribution={"shards": shards}))

    assert raised.value.errors["distribution.shards"] == ["must be an integer from 1 to 1024"]


@pytest.mark.django_db
def test_a_distribution_block_refuses_unknown_keys_and_unique_indexes():
    with pytest.raises(ValidationFailed) as raised:
        normalize_definition(dogs_definition(distribution={"shards": 2, "column": "name"}))

    errors = raised.value.errors
    assert errors["distribution.column"] == ["unknown key"]
    assert "cannot have unique indexes" in errors["indexes.1.unique"][0]
