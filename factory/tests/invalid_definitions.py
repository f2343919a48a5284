"""Invalid storage definitions and the errors each must produce, path by path.

Shared by test_definition (the validator itself) and test_views (the 400 answer), so that
every kind of bad input is checked at both levels. Only cases that hold on every database
are here; the PostgreSQL-only index types are tested apart.
"""

from __future__ import annotations

from typing import Any

import pytest

NAME_RULE = "must match ^[a-z][a-z0-9_]{0,49}$ (lower-case letter, then letters, digits, _)"
TYPES = "integer, float, decimal, boolean, text, date, datetime, uuid, json"
INTEGER = "Must be an integer (a JSON number without a fraction)."
FLOAT = "Must be a finite JSON number."
DECIMAL = "Must be a decimal number, as a string or a number."


def definition(**overrides: Any) -> dict[str, Any]:
    """A small valid definition; keyword arguments replace (or, as None, remove) keys."""
    data: dict[str, Any] = {"name": "things", "fields": [{"name": "title", "type": "text"}]}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def with_field(**spec: Any) -> dict[str, Any]:
    return definition(fields=[spec])


def with_index(*indexes: Any) -> dict[str, Any]:
    fields = [
        {"name": "title", "type": "text"},
        {"name": "age", "type": "integer"},
        {"name": "data", "type": "json"},
    ]
    return definition(fields=fields, indexes=list(indexes))


def _case(case_id: str, data: Any, errors: dict[str, list[str]]):
    return pytest.param(data, errors, id=case_id)


def _bad_field_name(name: Any, message: str):
    return _case(
        f"field-name-{name!r}", with_field(name=name, type="text"), {"fields.0.name": [message]}
    )


TOP_LEVEL = [
    _case("name-missing", definition(name=None), {"name": ["This field is required."]}),
    _case("name-not-a-string", definition(name=7), {"name": ["must be a string"]}),
    _case("name-upper-case", definition(name="Dogs"), {"name": [NAME_RULE]}),
    _case("name-51-chars", definition(name="a" * 51), {"name": [NAME_RULE]}),
    _case("name-starts-with-digit", definition(name="1dogs"), {"name": [NAME_RULE]}),
    _case("name-starts-with-underscore", definition(name="_dogs"), {"name": [NAME_RULE]}),
    _case("name-with-dash", definition(name="hot-dogs"), {"name": [NAME_RULE]}),
    _case("name-empty", definition(name=""), {"name": [NAME_RULE]}),
    _case(
        "description-not-a-string",
        definition(description=["x"]),
        {"description": ["must be a string"]},
    ),
    _case(
        "description-too-long",
        definition(description="x" * 2001),
        {"description": ["must be at most 2000 characters"]},
    ),
    _case("unknown-top-level-key", definition(colour="red"), {"colour": ["unknown key"]}),
    _case("fields-missing", definition(fields=None), {"fields": ["This field is required."]}),
    _case(
        "fields-empty",
        definition(fields=[]),
        {"fields": ["must be a non-empty list of field objects"]},
    ),
    _case(
        "fields-not-a-list",
        definition(fields={"title": "text"}),
        {"fields": ["must be a non-empty list of field objects"]},
    ),
    _case(
        "fields-null",
        {"name": "things", "fields": None},
        {"fields": ["must be a non-empty list of field objects"]},
    ),
]

PRIMARY_KEY = [
    _case(
        "primary-key-not-an-object",
        definition(primary_key="id"),
        {"primary_key": ["must be an object with 'name' and 'type'"]},
    ),
    _case(
        "primary-key-unknown-type",
        definition(primary_key={"name": "id", "type": "bigserial"}),
        {
            "primary_key.type": [
                "unknown primary key type 'bigserial'; expected one of serial, uuid, integer, text"
            ]
        },
    ),
    _case(
        "primary-key-bad-name",
        definition(primary_key={"name": "Id", "type": "serial"}),
        {"primary_key.name": [NAME_RULE]},
    ),
    _case(
        "primary-key-named-pk",
        definition(primary_key={"name": "pk", "type": "serial"}),
        {"primary_key.name": ["'pk' is reserved by the model machinery"]},
    ),
    _case(
        "primary-key-name-not-a-string",
        definition(primary_key={"name": 1, "type": "serial"}),
        {"primary_key.name": ["must be a string"]},
    ),
    _case(
        "primary-key-unknown-key",
        definition(primary_key={"name": "id", "type": "serial", "auto": True}),
        {"primary_key.auto": ["unknown key"]},
    ),
]

FIELD_SHAPE = [
    _case(
        "field-not-an-object",
        definition(fields=["title"]),
        {"fields.0": ["must be an object with at least 'name' and 'type'"]},
    ),
    _case(
        "field-name-missing",
        with_field(type="text"),
        {"fields.0.name": ["This field is required."]},
    ),
    _case(
        "field-type-missing",
        with_field(name="title"),
        {"fields.0.type": [f"This field is required; one of {TYPES}."]},
    ),
    _case(
        "field-type-unknown",
        with_field(name="title", type="strnig"),
        {"fields.0.type": [f"unknown type 'strnig'; expected one of {TYPES}"]},
    ),
    _case(
        "field-type-not-a-string",
        with_field(name="title", type=["text"]),
        {"fields.0.type": [f"unknown type ['text']; expected one of {TYPES}"]},
    ),
    _case(
        "field-unknown-key",
        with_field(name="title", type="text", maxlength=3),
        {"fields.0.maxlength": ["unknown key"]},
    ),
    _case(
        "option-of-another-type",
        with_field(name="n", type="integer", max_length=3),
        {"fields.0.max_length": ["unknown key"]},
    ),
    _case(
        "choices-on-boolean",
        with_field(name="b", type="boolean", choices=[True]),
        {"fields.0.choices": ["unknown key"]},
    ),
    _case(
        "min-on-json", with_field(name="j", type="json", min=1), {"fields.0.min": ["unknown key"]}
    ),
    _case(
        "min-on-text", with_field(name="t", type="text", min="a"), {"fields.0.min": ["unknown key"]}
    ),
    _case(
        "required-not-a-boolean",
        with_field(name="t", type="text", required="yes"),
        {"fields.0.required": ["must be true or false"]},
    ),
    _case(
        "nullable-not-a-boolean",
        with_field(name="t", type="text", nullable=0),
        {"fields.0.nullable": ["must be true or false"]},
    ),
    _case(
        "duplicate-field-name",
        definition(
            fields=[{"name": "title", "type": "text"}, {"name": "title", "type": "integer"}]
        ),
        {"fields.1.name": ["duplicate field name 'title'"]},
    ),
    _case(
        "field-named-like-default-primary-key",
        with_field(name="id", type="integer"),
        {"fields.0.name": ["'id' is the primary key's name"]},
    ),
    _case(
        "field-named-like-custom-primary-key",
        definition(
            primary_key={"name": "code", "type": "text"}, fields=[{"name": "code", "type": "text"}]
        ),
        {"fields.0.name": ["'code' is the primary key's name"]},
    ),
]

FIELD_NAMES = [
    _bad_field_name("pk", "'pk' is reserved by the model machinery"),
    _bad_field_name("objects", "'objects' is reserved by the model machinery"),
    _bad_field_name("save", "'save' is reserved by the model machinery"),
    _bad_field_name("delete", "'delete' is reserved by the model machinery"),
    _bad_field_name("clean", "'clean' is reserved by the model machinery"),
    _bad_field_name("class", "'class' is a Python keyword"),
    _bad_field_name("match", "'match' is a Python keyword"),
    _bad_field_name("limit", "'limit' is reserved as a query parameter of the records API"),
    _bad_field_name("cursor", "'cursor' is reserved as a query parameter of the records API"),
    _bad_field_name("ordering", "'ordering' is reserved as a query parameter of the records API"),
    _bad_field_name("fields", "'fields' is reserved as a query parameter of the records API"),
    _bad_field_name("count", "'count' is reserved as a query parameter of the records API"),
    _bad_field_name("format", "'format' is reserved as a query parameter of the records API"),
    _bad_field_name("a__b", "must not contain '__' (Django's lookup separator)"),
    _bad_field_name("x_", "must not end with '_'"),
    _bad_field_name("Title", NAME_RULE),
    _bad_field_name("a" * 51, NAME_RULE),
    _bad_field_name("_version", NAME_RULE),
    _bad_field_name("2nd", NAME_RULE),
    _bad_field_name("dog food", NAME_RULE),
    _bad_field_name(5, "must be a string"),
]

OPTIONS = [
    _case(
        "decimal-without-max-digits",
        with_field(name="d", type="decimal", decimal_places=2),
        {"fields.0.max_digits": ["required for decimal fields"]},
    ),
    _case(
        "decimal-without-decimal-places",
        with_field(name="d", type="decimal", max_digits=6),
        {"fields.0.decimal_places": ["required for decimal fields"]},
    ),
    _case(
        "decimal-max-digits-zero",
        with_field(name="d", type="decimal", max_digits=0, decimal_places=0),
        {"fields.0.max_digits": ["must be an integer from 1 to 1000"]},
    ),
    _case(
        "decimal-max-digits-too-big",
        with_field(name="d", type="decimal", max_digits=1001, decimal_places=0),
        {"fields.0.max_digits": ["must be an integer from 1 to 1000"]},
    ),
    _case(
        "decimal-max-digits-a-string",
        with_field(name="d", type="decimal", max_digits="6", decimal_places=2),
        {"fields.0.max_digits": ["must be an integer from 1 to 1000"]},
    ),
    _case(
        "decimal-places-negative",
        with_field(name="d", type="decimal", max_digits=6, decimal_places=-1),
        {"fields.0.decimal_places": ["must be an integer >= 0"]},
    ),
    _case(
        "decimal-places-a-boolean",
        with_field(name="d", type="decimal", max_digits=6, decimal_places=True),
        {"fields.0.decimal_places": ["must be an integer >= 0"]},
    ),
    _case(
        "decimal-places-over-max-digits",
        with_field(name="d", type="decimal", max_digits=2, decimal_places=3),
        {"fields.0.decimal_places": ["must not be greater than max_digits"]},
    ),
    _case(
        "max-length-zero",
        with_field(name="t", type="text", max_length=0),
        {"fields.0.max_length": ["must be an integer from 1 to 10485760"]},
    ),
    _case(
        "max-length-too-big",
        with_field(name="t", type="text", max_length=10_485_761),
        {"fields.0.max_length": ["must be an integer from 1 to 10485760"]},
    ),
    _case(
        "max-length-a-string",
        with_field(name="t", type="text", max_length="10"),
        {"fields.0.max_length": ["must be an integer from 1 to 10485760"]},
    ),
    _case(
        "max-length-a-boolean",
        with_field(name="t", type="text", max_length=True),
        {"fields.0.max_length": ["must be an integer from 1 to 10485760"]},
    ),
    _case(
        "integer-min-above-max",
        with_field(name="n", type="integer", min=5, max=1),
        {"fields.0.min": ["must not be greater than max"]},
    ),
    _case(
        "float-min-above-max",
        with_field(name="f", type="float", min=0.5, max=0.25),
        {"fields.0.min": ["must not be greater than max"]},
    ),
    _case(
        "decimal-min-above-max",
        with_field(name="d", type="decimal", max_digits=4, decimal_places=1, min="10.5", max=2),
        {"fields.0.min": ["must not be greater than max"]},
    ),
    _case(
        "integer-min-a-string",
        with_field(name="n", type="integer", min="1"),
        {"fields.0.min": [INTEGER]},
    ),
    _case(
        "integer-max-a-fraction",
        with_field(name="n", type="integer", max=1.5),
        {"fields.0.max": [INTEGER]},
    ),
    _case(
        "integer-min-out-of-range",
        with_field(name="n", type="integer", min=2**63),
        {"fields.0.min": ["Must be between -2^63 and 2^63-1."]},
    ),
    _case(
        "float-min-a-boolean",
        with_field(name="f", type="float", min=True),
        {"fields.0.min": [FLOAT]},
    ),
    # A bound of the wrong type next to a valid one is reported, not compared with it.
    _case(
        "integer-min-a-word-with-max",
        with_field(name="n", type="integer", min="abc", max=5),
        {"fields.0.min": [INTEGER]},
    ),
    _case(
        "integer-min-a-list-with-max",
        with_field(name="n", type="integer", min=[1], max=5),
        {"fields.0.min": [INTEGER]},
    ),
    _case(
        "float-min-a-boolean-with-max",
        with_field(name="f", type="float", min=True, max=0.5),
        {"fields.0.min": [FLOAT]},
    ),
    _case(
        "decimal-max-a-word-with-min",
        with_field(name="d", type="decimal", max_digits=4, decimal_places=1, min="1", max="abc"),
        {"fields.0.max": [DECIMAL]},
    ),
    _case(
        "decimal-min-too-many-places",
        with_field(name="d", type="decimal", max_digits=4, decimal_places=1, min="1.25"),
        {"fields.0.min": ["Ensure that there are no more than 1 decimal places."]},
    ),
    _case(
        "choices-empty",
        with_field(name="t", type="text", choices=[]),
        {"fields.0.choices": ["must be a non-empty list"]},
    ),
    _case(
        "choices-not-a-list",
        with_field(name="t", type="text", choices="a,b"),
        {"fields.0.choices": ["must be a non-empty list"]},
    ),
    _case(
        "choices-of-the-wrong-type",
        with_field(name="n", type="integer", choices=[1, "2"]),
        {"fields.0.choices.1": [INTEGER]},
    ),
    _case(
        "choices-repeat-a-value",
        with_field(name="t", type="text", choices=["a", "b", "a"]),
        {"fields.0.choices": ["must not repeat a value"]},
    ),
    _case(
        "choices-repeat-a-decimal",
        with_field(name="d", type="decimal", max_digits=3, decimal_places=1, choices=["1", 1.0]),
        {"fields.0.choices": ["must not repeat a value"]},
    ),
    _case(
        "choices-longer-than-max-length",
        with_field(name="t", type="text", max_length=2, choices=["abc"]),
        {"fields.0.choices.0": ["Ensure this field has no more than 2 characters."]},
    ),
    _case(
        "choices-bad-date",
        with_field(name="d", type="date", choices=["2024-02-30"]),
        {"fields.0.choices.0": ["Must be a date as an ISO 8601 string (YYYY-MM-DD)."]},
    ),
]

DEFAULTS = [
    _case(
        "default-wrong-type",
        with_field(name="n", type="integer", default="1"),
        {"fields.0.default": [INTEGER]},
    ),
    _case(
        "default-below-min",
        with_field(name="n", type="integer", min=0, default=-1),
        {"fields.0.default": ["Ensure this value is greater than or equal to 0."]},
    ),
    _case(
        "default-above-max",
        with_field(name="n", type="integer", max=3, default=5),
        {"fields.0.default": ["Ensure this value is less than or equal to 3."]},
    ),
    _case(
        "default-above-decimal-max",
        with_field(
            name="d", type="decimal", max_digits=4, decimal_places=2, max="1.5", default="1.51"
        ),
        {"fields.0.default": ["Ensure this value is less than or equal to 1.50."]},
    ),
    _case(
        "default-not-a-choice",
        with_field(name="t", type="text", choices=["a", "b"], default="c"),
        {"fields.0.default": ["'c' is not one of the choices ['a', 'b']."]},
    ),
    _case(
        "default-over-max-length",
        with_field(name="t", type="text", max_length=2, default="abc"),
        {"fields.0.default": ["Ensure this field has no more than 2 characters."]},
    ),
    _case(
        "default-null-not-nullable",
        with_field(name="t", type="text", nullable=False, default=None),
        {"fields.0.default": ["null is not allowed: the field is not nullable"]},
    ),
    _case(
        "default-null-required",
        with_field(name="t", type="text", required=True, default=None),
        {"fields.0.default": ["null is not allowed: the field is not nullable"]},
    ),
    _case(
        "default-boolean-as-string",
        with_field(name="b", type="boolean", default="true"),
        {"fields.0.default": ["Must be true or false."]},
    ),
    _case(
        "default-bad-uuid",
        with_field(name="u", type="uuid", default="not-a-uuid"),
        {"fields.0.default": ["Must be a UUID string."]},
    ),
    _case(
        "default-naive-datetime",
        with_field(name="t", type="datetime", default="2024-05-01T12:00:00"),
        {"fields.0.default": ["Must carry a time zone (e.g. 2024-05-01T12:00:00Z)."]},
    ),
    _case(
        "default-date-as-number",
        with_field(name="d", type="date", default=20240501),
        {"fields.0.default": ["Must be a date as an ISO 8601 string (YYYY-MM-DD)."]},
    ),
    _case(
        "default-too-many-decimal-places",
        with_field(name="d", type="decimal", max_digits=5, decimal_places=2, default="1.234"),
        {"fields.0.default": ["Ensure that there are no more than 2 decimal places."]},
    ),
    _case(
        "default-float-as-string",
        with_field(name="f", type="float", default="1.5"),
        {"fields.0.default": [FLOAT]},
    ),
    _case(
        "default-text-as-number",
        with_field(name="t", type="text", default=1),
        {"fields.0.default": ["Must be a string."]},
    ),
]

INDEXES = [
    _case(
        "indexes-not-a-list",
        {**with_index(), "indexes": {"fields": ["age"]}},
        {"indexes": ["must be a list of index objects"]},
    ),
    _case(
        "index-not-an-object", with_index("age"), {"indexes.0": ["must be an object with 'fields'"]}
    ),
    _case(
        "index-fields-missing",
        with_index({"type": "btree"}),
        {"indexes.0.fields": ["must be a non-empty list of field names"]},
    ),
    _case(
        "index-fields-empty",
        with_index({"fields": []}),
        {"indexes.0.fields": ["must be a non-empty list of field names"]},
    ),
    _case(
        "index-fields-not-names",
        with_index({"fields": [1]}),
        {"indexes.0.fields": ["must be a non-empty list of field names"]},
    ),
    _case(
        "index-field-twice",
        with_index({"fields": ["age", "age"]}),
        {"indexes.0.fields": ["must not name a field twice"]},
    ),
    _case(
        "index-on-unknown-field",
        with_index({"fields": ["age", "weight"]}),
        {"indexes.0.fields": ["unknown field 'weight'"]},
    ),
    _case(
        "index-on-primary-key",
        with_index({"fields": ["id"]}),
        {"indexes.0.fields": ["unknown field 'id'"]},
    ),
    _case(
        "index-unknown-type",
        with_index({"fields": ["age"], "type": "bitmap"}),
        {"indexes.0.type": ["unknown index type 'bitmap'; expected one of btree, hash, gin, brin"]},
    ),
    _case(
        "index-unique-not-a-boolean",
        with_index({"fields": ["age"], "unique": "yes"}),
        {"indexes.0.unique": ["must be true or false"]},
    ),
    _case(
        "index-unknown-key",
        with_index({"fields": ["age"], "name": "by_age"}),
        {"indexes.0.name": ["unknown key"]},
    ),
    _case(
        "duplicate-index",
        with_index({"fields": ["age"]}, {"fields": ["age"], "type": "btree"}),
        {"indexes.1": ["duplicate index"]},
    ),
    _case(
        "duplicate-index-unique-or-not",
        with_index({"fields": ["age"]}, {"fields": ["age"], "unique": True}),
        {"indexes.1": ["duplicate index"]},
    ),
    _case(
        "btree-on-json",
        with_index({"fields": ["data"]}),
        {"indexes.0.type": ["a btree index does not fit field 'data' of type json"]},
    ),
    _case(
        "unique-on-json",
        with_index({"fields": ["data"], "unique": True}),
        {"indexes.0.type": ["a btree index does not fit field 'data' of type json"]},
    ),
]

# Cases whose errors mention every problem of the definition at once.
SEVERAL = [
    _case(
        "several-problems-at-once",
        {
            "name": "Things",
            "fields": [
                {"name": "title", "type": "strnig"},
                {"name": "ok", "type": "text"},
                {"name": "save", "type": "integer", "min": 3, "max": 1},
            ],
            "extra": True,
        },
        {
            "extra": ["unknown key"],
            "name": [NAME_RULE],
            "fields.0.type": [f"unknown type 'strnig'; expected one of {TYPES}"],
            "fields.2.name": ["'save' is reserved by the model machinery"],
            "fields.2.min": ["must not be greater than max"],
        },
    ),
]

INVALID_DEFINITIONS = [
    *TOP_LEVEL,
    *PRIMARY_KEY,
    *FIELD_SHAPE,
    *FIELD_NAMES,
    *OPTIONS,
    *DEFAULTS,
    *INDEXES,
    *SEVERAL,
]
