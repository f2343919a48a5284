"""factory.schema.ddl: the tables that storages get, read back through Django's introspection.

Each storage is created through the service (`create_storage`), as the API does it.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection

from core.testing import on_postgresql, storage_db
from factory.schema import feed
from factory.schema.builder import index_name
from factory.tests.factories import dogs_definition
from factory.tests.tables import (
    a_datetime,
    checks,
    columns,
    constraints,
    description,
    index_names,
    indexes,
    insert,
    model_of,
    primary_key,
    storage_tables,
    table_exists,
    triggers,
)

pytestmark = storage_db

SYSTEM_COLUMNS = {
    "_version": ("BigIntegerField", False),
    "_created_at": ("DateTimeField", False),
    "_updated_at": ("DateTimeField", False),
}
# The writing transaction of each record's feed position (factory.schema.feed), a column
# the model does not know; SQLite needs none.
FEED_COLUMNS = {"postgresql": {"_txid": ("BigIntegerField", False)}, "sqlite": {}}
# What introspection reads back where the two databases differ: SQLite has no uuid type
# (char(32)) and reports every integer primary key as an AutoField.
VENDOR_TYPES = {
    "postgresql": {
        "serial": "BigAutoField",
        "integer_pk": "BigIntegerField",
        "uuid": "UUIDField",
        "version": "BigAutoField",
    },
    "sqlite": {
        "serial": "AutoField",
        "integer_pk": "AutoField",
        "uuid": "CharField",
        "version": "BigIntegerField",
    },
}


def vendor_type(kind: str) -> str:
    return VENDOR_TYPES["postgresql" if on_postgresql() else "sqlite"][kind]


EVERY_TYPE = {
    "name": "every_type",
    "fields": [
        {"name": "i", "type": "integer"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "decimal", "max_digits": 6, "decimal_places": 2},
        {"name": "b", "type": "boolean"},
        {"name": "t", "type": "text"},
        {"name": "c", "type": "text", "max_length": 120},
        {"name": "day", "type": "date"},
        {"name": "ts", "type": "datetime"},
        {"name": "u", "type": "uuid"},
        {"name": "j", "type": "json"},
    ],
}


# --- columns -----------------------------------------------------------------------------


def test_table_is_named_after_the_storage_and_is_the_only_table_made(create_storage):
    before = storage_tables()

    create_storage(EVERY_TYPE)

    assert storage_tables() - before == {"ds_every_type"}


def test_each_field_type_gets_its_column_type(create_storage):
    create_storage(EVERY_TYPE)

    assert columns("ds_every_type") == {
        "id": (vendor_type("serial"), False),
        **SYSTEM_COLUMNS,
        # PostgreSQL's introspection reads a bigint defaulting to nextval() as a serial:
        # _version takes its storage's counter (factory.schema.record_versions).
        "_version": (vendor_type("version"), False),
        "i": ("BigIntegerField", True),
        "f": ("FloatField", True),
        "d": ("DecimalField", True),
        "b": ("BooleanField", True),
        "t": ("TextField", True),
        "c": ("CharField", True),
        "day": ("DateField", True),
        "ts": ("DateTimeField", True),
        "u": (vendor_type("uuid"), True),
        "j": ("JSONField", True),
    }


def test_the_change_feed_gets_its_column_its_index_and_its_triggers(create_storage):
    create_storage(EVERY_TYPE)

    found = description("ds_every_type")
    assert {name: found[name].null_ok for name in FEED_COLUMNS[connection.vendor]} == {
        name: nullable for name, (_, nullable) in FEED_COLUMNS[connection.vendor].items()
    }
    assert feed.position_index("ds_every_type") in constraints("ds_every_type")
    assert len(triggers("ds_every_type")) == (3 if connection.vendor == "postgresql" else 1)


def test_columns_follow_the_order_of_the_definition(create_storage):
    create_storage(EVERY_TYPE)

    assert list(description("ds_every_type")) == [
        "id",
        "_version",
        "_created_at",
        "_updated_at",
        *(field["name"] for field in EVERY_TYPE["fields"]),
        *FEED_COLUMNS[connection.vendor],  # added after the table, as to an older one
    ]


def test_text_with_max_length_is_a_varchar_of_that_length(create_storage):
    create_storage(EVERY_TYPE)

    assert description("ds_every_type")["c"].display_size == 120


@pytest.mark.postgresql
def test_decimal_column_has_its_precision_and_scale(create_storage):
    create_storage(EVERY_TYPE)

    info = description("ds_every_type")["d"]
    assert (info.precision, info.scale) == (6, 2)


@pytest.mark.parametrize(
    ("flags", "nullable"),
    [
        ({}, True),
        ({"nullable": True}, True),
        ({"required": True}, False),
        ({"nullable": False}, False),
        ({"required": True, "nullable": True}, True),
    ],
)
def test_nullability_of_a_column_follows_required_and_nullable(create_storage, flags, nullable):
    create_storage({"name": "flags", "fields": [{"name": "v", "type": "integer", **flags}]})

    assert columns("ds_flags")["v"] == ("BigIntegerField", nullable)


def test_not_null_column_refuses_null(create_storage):
    storage = create_storage(
        {"name": "flags", "fields": [{"name": "v", "type": "text", "required": True}]}
    )

    with pytest.raises(IntegrityError):
        insert(model_of(storage), v=None)


# --- primary keys ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pk_type", "expected"),
    [
        ("serial", lambda: vendor_type("serial")),
        ("uuid", lambda: vendor_type("uuid")),
        ("integer", lambda: vendor_type("integer_pk")),
        ("text", lambda: "TextField"),
    ],
)
def test_each_primary_key_type_gets_its_column(create_storage, pk_type, expected):
    create_storage(
        {
            "name": "keyed",
            "primary_key": {"name": "key", "type": pk_type},
            "fields": [{"name": "v", "type": "text"}],
        }
    )

    assert columns("ds_keyed")["key"] == (expected(), False)
    assert primary_key("ds_keyed") == ["key"]
    assert "id" not in columns("ds_keyed")


@pytest.mark.parametrize("pk_type", ["serial", "uuid", "integer", "text"])
def test_primary_key_gets_no_index_besides_its_own(create_storage, pk_type):
    create_storage(
        {
            "name": "keyed",
            "primary_key": {"name": "key", "type": pk_type},
            "fields": [{"name": "v", "type": "text"}],
        }
    )

    # PostgreSQL adds Django's pattern-ops index to a text key, for prefix (LIKE) lookups.
    extra = {("btree", ("key",))} if pk_type == "text" and on_postgresql() else set()
    assert indexes("ds_keyed") == extra


def test_default_primary_key_is_a_serial_named_id(create_storage):
    create_storage({"name": "plain", "fields": [{"name": "v", "type": "text"}]})

    assert primary_key("ds_plain") == ["id"]
    assert columns("ds_plain")["id"] == (vendor_type("serial"), False)


def _keyed(create_storage, pk_type):
    return model_of(
        create_storage(
            {
                "name": "keyed",
                "primary_key": {"name": "key", "type": pk_type},
                "fields": [{"name": "v", "type": "text"}],
            }
        )
    )


def test_serial_key_is_generated_by_the_database(create_storage):
    model = _keyed(create_storage, "serial")

    first, second = insert(model, v="a"), insert(model, v="b")

    assert isinstance(first.key, int)
    assert second.key > first.key


def test_uuid_key_is_generated_unless_given(create_storage):
    model = _keyed(create_storage, "uuid")
    given = uuid.UUID("12345678-1234-5678-1234-567812345678")

    generated = insert(model, v="a")
    insert(model, key=given, v="b")

    assert isinstance(generated.key, uuid.UUID)
    assert set(model._default_manager.values_list("key", flat=True)) == {generated.key, given}


def test_integer_key_is_not_generated(create_storage):
    model = _keyed(create_storage, "integer")

    insert(model, key=42, v="a")
    with pytest.raises(IntegrityError):
        insert(model, v="b")

    assert list(model._default_manager.values_list("key", flat=True)) == [42]


# --- check constraints (min / max / choices) ---------------------------------------------

CHECKED = {
    "name": "checked",
    "fields": [
        {"name": "n", "type": "integer", "min": 0, "max": 10},
        # Multi-digit choices: Django's SQLite introspection cannot parse `IN (1, 2, 3)`.
        {"name": "k", "type": "integer", "choices": [10, 20, 30]},
        {"name": "f", "type": "float", "min": 0.5, "max": 2},
        {"name": "fc", "type": "float", "choices": [0.5, 1.5]},
        {"name": "d", "type": "decimal", "max_digits": 5, "decimal_places": 2, "min": "1.5"},
        {"name": "dm", "type": "decimal", "max_digits": 5, "decimal_places": 2, "max": 99},
        {
            "name": "dc",
            "type": "decimal",
            "max_digits": 5,
            "decimal_places": 2,
            "choices": ["1.50", 2],
        },
        {"name": "s", "type": "text", "choices": ["small", "it's", "50%"]},
        {"name": "sm", "type": "text", "max_length": 5, "choices": ["a", "b"]},
        {"name": "day", "type": "date", "choices": ["2024-01-01", "2024-12-31"]},
        {"name": "u", "type": "uuid", "choices": ["12345678-1234-5678-1234-567812345678"]},
        {"name": "free", "type": "integer"},
        {"name": "note", "type": "text", "max_length": 3},
    ],
}


def test_min_max_and_choices_become_check_constraints(create_storage):
    create_storage(CHECKED)

    assert checks("ds_checked") == {
        "n": 2,
        "k": 1,
        "f": 2,
        "fc": 1,
        "d": 1,
        "dm": 1,
        "dc": 1,
        "s": 1,
        "sm": 1,
        "day": 1,
        "u": 1,
    }


def test_a_storage_without_rules_has_no_check_constraints(create_storage):
    create_storage(EVERY_TYPE)

    assert checks("ds_every_type") == {}


@pytest.mark.parametrize(
    ("field", "allowed", "refused"),
    [
        ("n", 0, -1),
        ("n", 10, 11),
        ("k", 30, 40),
        ("f", 0.5, 0.49),
        ("f", 2.0, 2.01),
        ("fc", 1.5, 1.0),
        ("d", Decimal("1.50"), Decimal("1.49")),
        ("dm", Decimal("99.00"), Decimal("99.01")),
        ("dc", Decimal("2.00"), Decimal("2.50")),
        ("s", "it's", "its"),
        ("s", "50%", "50"),
        ("sm", "b", "c"),
        ("day", datetime.date(2024, 12, 31), datetime.date(2024, 6, 1)),
        (
            "u",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            uuid.UUID("87654321-4321-8765-4321-876543218765"),
        ),
    ],
)
def test_database_enforces_min_max_and_choices(create_storage, field, allowed, refused):
    model = model_of(create_storage(CHECKED))

    insert(model, **{field: allowed})
    with pytest.raises(IntegrityError):
        insert(model, **{field: refused})

    assert list(model._default_manager.values_list(field, flat=True)) == [allowed]


def test_null_passes_every_check_of_a_nullable_field(create_storage):
    model = model_of(create_storage(CHECKED))

    insert(model)

    assert model._default_manager.count() == 1


# --- indexes -----------------------------------------------------------------------------


def test_readme_indexes_are_created(create_storage):
    create_storage(dogs_definition())

    assert indexes("ds_dogs") == {("btree", ("breed",)), ("unique", ("name", "born"))}


def test_index_and_constraint_names_are_the_builders(create_storage):
    definition = dogs_definition(
        indexes=[{"fields": ["breed"]}, {"fields": ["name", "born"], "unique": True}]
    )
    create_storage(definition)

    expected = {
        index_name("ds_dogs", {"fields": ["breed"], "type": "btree", "unique": False}),
        index_name("ds_dogs", {"fields": ["name", "born"], "type": "btree", "unique": True}),
    }
    assert index_names("ds_dogs") == expected


def test_multi_column_btree_keeps_the_column_order(create_storage):
    create_storage(
        dogs_definition(indexes=[{"fields": ["born", "name"]}, {"fields": ["name", "born"]}])
    )

    assert indexes("ds_dogs") == {("btree", ("born", "name")), ("btree", ("name", "born"))}


def test_system_columns_can_be_indexed(create_storage):
    create_storage(dogs_definition(indexes=[{"fields": ["_updated_at"]}]))

    assert indexes("ds_dogs") == {("btree", ("_updated_at",))}


def test_storage_without_indexes_has_none(create_storage):
    create_storage(dogs_definition(indexes=[]))

    assert indexes("ds_dogs") == set()


def test_unique_index_refuses_a_second_equal_row(create_storage):
    model = model_of(create_storage(dogs_definition()))
    row = {"name": "Rex", "born": datetime.date(2020, 1, 1), "registered_at": a_datetime()}

    insert(model, **row)
    with pytest.raises(IntegrityError):
        insert(model, **row)

    assert model._default_manager.count() == 1


def test_two_storages_may_index_fields_of_the_same_name(create_storage):
    create_storage(dogs_definition())
    create_storage(dogs_definition(name="cats"))

    assert indexes("ds_cats") == indexes("ds_dogs")
    assert index_names("ds_cats").isdisjoint(index_names("ds_dogs"))


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ({"fields": ["chip"], "type": "hash"}, ("hash", ("chip",))),
        ({"fields": ["age"], "type": "hash"}, ("hash", ("age",))),
        ({"fields": ["extra"], "type": "gin"}, ("gin", ("extra",))),
        ({"fields": ["registered_at"], "type": "brin"}, ("brin", ("registered_at",))),
        ({"fields": ["born", "weight_kg"], "type": "brin"}, ("brin", ("born", "weight_kg"))),
        ({"fields": ["_created_at"], "type": "brin"}, ("brin", ("_created_at",))),
    ],
    ids=[
        "hash-uuid",
        "hash-integer",
        "gin-json",
        "brin-datetime",
        "brin-two-columns",
        "brin-system",
    ],
)
def test_postgresql_index_types_are_created(create_storage, index, expected):
    create_storage(dogs_definition(indexes=[index]))

    assert indexes("ds_dogs") == {expected}


@pytest.mark.postgresql
def test_readme_example_with_every_index_type_is_created(create_storage):
    definition = dogs_definition()
    definition["indexes"] += [
        {"fields": ["registered_at"], "type": "brin"},
        {"fields": ["extra"], "type": "gin"},
    ]

    create_storage(definition)

    assert indexes("ds_dogs") == {
        ("btree", ("breed",)),
        ("unique", ("name", "born")),
        ("brin", ("registered_at",)),
        ("gin", ("extra",)),
    }
    assert table_exists("ds_dogs")
