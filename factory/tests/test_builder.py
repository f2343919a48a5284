"""factory.schema.builder: the Django model class built from a version's definition.

Building is pure (no database); the tables it leads to are checked in test_ddl.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, models

from factory.schema import names
from factory.schema.builder import APP_LABEL, build_model, index_name
from factory.schema.definition import normalize_definition
from factory.tests.factories import dogs_definition
from factory.tests.invalid_definitions import definition


def build(data: dict[str, Any], storage_id: int = 1, version: int = 1) -> type[models.Model]:
    return build_model(
        storage_id=storage_id, version=version, definition=normalize_definition(data)
    )


def field(model: type[models.Model], name: str) -> models.Field:
    return model._meta.get_field(name)


def test_model_maps_to_the_storage_table():
    model = build(dogs_definition(), storage_id=7, version=3)

    assert model.__name__ == "Storage7V3"
    assert model._meta.db_table == "ds_dogs"
    assert model._meta.app_label == APP_LABEL


def test_model_is_kept_out_of_the_global_app_registry():
    before = list(apps.get_models(include_auto_created=True))

    model = build(dogs_definition())

    assert APP_LABEL not in apps.all_models
    assert model not in apps.get_models(include_auto_created=True)
    assert list(apps.get_models(include_auto_created=True)) == before
    assert model._meta.apps is not apps


def test_building_the_same_version_again_neither_warns_nor_reuses_the_class():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = build(dogs_definition(), storage_id=1, version=1)
        second = build(dogs_definition(), storage_id=1, version=1)

    assert caught == []
    assert first is not second
    assert first._meta.apps is not second._meta.apps


def test_models_can_be_built_from_many_threads_at_once():
    built: list[type[models.Model]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        try:
            for _ in range(20):
                built.append(build(dogs_definition()))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert failures == []
    assert caught == []
    assert len({id(model) for model in built}) == 160
    assert all(model._meta.db_table == "ds_dogs" for model in built)


def test_every_table_has_its_system_columns():
    model = build(definition())

    assert isinstance(field(model, "_version"), models.BigIntegerField)
    # Drawn from the table's counter (record_versions): the column's default on PostgreSQL.
    assert field(model, "_version").has_default() is False
    assert field(model, "_version").has_db_default() is (connection.vendor == "postgresql")
    assert isinstance(field(model, "_created_at"), models.DateTimeField)
    assert isinstance(field(model, "_updated_at"), models.DateTimeField)
    assert not any(field(model, name).null for name in ("_version", "_created_at", "_updated_at"))


@pytest.mark.parametrize(
    ("spec", "field_class"),
    [
        ({"type": "integer"}, models.BigIntegerField),
        ({"type": "float"}, models.FloatField),
        ({"type": "decimal", "max_digits": 6, "decimal_places": 2}, models.DecimalField),
        ({"type": "boolean"}, models.BooleanField),
        ({"type": "text"}, models.TextField),
        ({"type": "text", "max_length": 12}, models.CharField),
        ({"type": "date"}, models.DateField),
        ({"type": "datetime"}, models.DateTimeField),
        ({"type": "uuid"}, models.UUIDField),
        ({"type": "json"}, models.JSONField),
    ],
    ids=lambda value: value.get("type") if isinstance(value, dict) else "",
)
def test_each_field_type_gets_its_model_field(spec, field_class):
    model = build(definition(fields=[{"name": "v", **spec}]))

    assert type(field(model, "v")) is field_class


def test_text_and_decimal_options_reach_the_model_field():
    model = build(dogs_definition())

    assert field(model, "name").max_length == 120
    assert (field(model, "weight_kg").max_digits, field(model, "weight_kg").decimal_places) == (
        6,
        2,
    )


def test_nullability_follows_the_normal_form_and_blank_is_left_to_the_api():
    model = build(dogs_definition())

    assert {f.name: f.null for f in model._meta.fields if not f.name.startswith("_")} == {
        "id": False,
        "name": False,
        "breed": True,
        "age": True,
        "weight_kg": True,
        "vaccinated": True,
        "born": True,
        "registered_at": False,
        "chip": True,
        "size": True,
        "extra": True,
    }
    assert all(field(model, name).blank for name in ("name", "registered_at", "breed"))


@pytest.mark.parametrize(
    ("pk_type", "field_class"),
    [
        ("serial", models.BigAutoField),
        ("uuid", models.UUIDField),
        ("integer", models.BigIntegerField),
        ("text", models.TextField),
    ],
)
def test_each_primary_key_type_gets_its_model_field(pk_type, field_class):
    model = build(definition(primary_key={"name": "key", "type": pk_type}))

    assert type(model._meta.pk) is field_class
    assert model._meta.pk.name == "key"
    assert [f.name for f in model._meta.fields if f.primary_key] == ["key"]


def test_uuid_primary_key_is_generated_on_the_server():
    model = build(definition(primary_key={"name": "key", "type": "uuid"}))

    assert isinstance(model().key, uuid.UUID)
    assert model().key != model().key


@pytest.mark.parametrize("pk_type", ["integer", "text"])
def test_natural_primary_key_has_no_generated_value(pk_type):
    model = build(definition(primary_key={"name": "key", "type": pk_type}))

    assert not model._meta.pk.has_default()
    assert model._meta.auto_field is None


def test_btree_indexes_and_unique_constraints_are_declared_on_meta():
    model = build(dogs_definition())

    assert [(type(i), i.fields) for i in model._meta.indexes] == [(models.Index, ["breed"])]
    uniques = [c for c in model._meta.constraints if isinstance(c, models.UniqueConstraint)]
    assert [list(c.fields) for c in uniques] == [["name", "born"]]


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("spec", "class_name"),
    [
        ({"fields": ["chip"], "type": "hash"}, "HashIndex"),
        ({"fields": ["extra"], "type": "gin"}, "GinIndex"),
        ({"fields": ["registered_at"], "type": "brin"}, "BrinIndex"),
    ],
)
def test_postgresql_index_types_use_their_index_classes(spec, class_name):
    model = build(dogs_definition(indexes=[spec]))

    (index,) = model._meta.indexes
    assert (type(index).__name__, index.fields) == (class_name, spec["fields"])


def test_every_min_max_and_choice_rule_is_a_check_constraint():
    model = build(dogs_definition())

    checks = [c for c in model._meta.constraints if isinstance(c, models.CheckConstraint)]
    assert sorted(str(c.condition) for c in checks) == [
        "(AND: ('age__gte', 0))",
        "(AND: ('age__lte', 40))",
        "(AND: ('size__in', ['small', 'medium', 'large']))",
    ]


def test_index_and_constraint_names_are_short_deterministic_and_per_table():
    spec = {"fields": ["name", "born"], "type": "btree", "unique": False}
    long_table = names.table_name("a" * 50)

    assert index_name("ds_dogs", spec) == index_name("ds_dogs", dict(spec))
    assert index_name("ds_dogs", spec) != index_name("ds_cats", spec)
    assert index_name("ds_dogs", spec) != index_name("ds_dogs", {**spec, "unique": True})
    assert len(index_name(long_table, spec)) <= 30
    model = build(dogs_definition())
    all_names = [o.name for o in [*model._meta.indexes, *model._meta.constraints]]
    assert len(set(all_names)) == len(all_names)
    assert all(len(name) <= 30 for name in all_names)


def test_attributes_the_builder_sets_on_the_class_are_refused_as_field_names():
    """A field named like a class attribute would be shadowed by it (a deferred read would
    answer the attribute, not the row's value): every such name must be refused."""
    model = build(definition(fields=[{"name": "title", "type": "text"}]))
    made_by_django = {"DoesNotExist", "MultipleObjectsReturned", "objects", "id", "title"}

    added = {name for name in vars(model) if not name.startswith("__")} - made_by_django
    public = {name for name in added if not name.startswith("_")}

    assert {"_storage_id", "_storage_version", "_definition"} <= added
    assert {name: names.name_problem(name) for name in public if not names.name_problem(name)} == {}
