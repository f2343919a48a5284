"""Build a Django model class from a version's definition.

Each class gets its own `Apps` registry: registering runtime models in Django's global
registry warns when a name repeats, clears every model's caches and races between
threads; a private registry per class does none of that and is collected with the class.
"""

from __future__ import annotations

from typing import Any

from django.apps.registry import Apps
from django.db import models
from django.db.models.expressions import RawSQL

from factory.schema import names, record_versions
from factory.schema.specs import FieldSpec, PrimaryKeySpec

APP_LABEL = "storage_records"


def build_model(*, storage_id: int, version: int, definition: dict[str, Any]) -> type[models.Model]:
    """A model class for one storage version; pure: touches no database."""
    key = primary_key_field(definition["primary_key"])
    model = type(f"Storage{storage_id}V{version}", (models.Model,), _attrs(definition, key))
    # Underscored: field names cannot start with "_", so these never shadow a field.
    model._storage_id = storage_id  # type: ignore[attr-defined]
    model._storage_version = version  # type: ignore[attr-defined]
    model._definition = definition  # type: ignore[attr-defined]
    return model


def partitioned_table_model(model: type[models.Model]) -> type[models.Model]:
    """The model a partitioned storage's table is created from (factory.schema.ddl): its
    PRIMARY KEY is (key, partition field), since PostgreSQL enforces uniqueness on a
    partitioned table only with the partition column (factory.schema.partitioning says
    why the key alone stays unique). The records API keeps `model`, keyed by the key."""
    definition = model._definition
    key = definition["primary_key"]["name"]
    key_field = primary_key_field(definition["primary_key"])
    key_field.primary_key = False
    attrs = _attrs(definition, key_field)
    attrs["pk"] = models.CompositePrimaryKey(key, definition["partition"]["field"])
    return type(f"{model.__name__}Table", (models.Model,), attrs)


def _attrs(definition: dict[str, Any], key: models.Field) -> dict[str, Any]:
    """The class attributes of a storage model, columns in table order (the key first)."""
    table = names.table_name(definition["name"])
    attrs: dict[str, Any] = {
        "__module__": "storage.records",
        "Meta": _meta(table, definition),
        definition["primary_key"]["name"]: key,
        "_version": version_field(table),
        "_created_at": models.DateTimeField(),
        "_updated_at": models.DateTimeField(),
    }
    for spec in definition["fields"]:
        attrs[spec["name"]] = model_field(spec)
    return attrs


def version_field(table: str) -> models.BigIntegerField:
    """`_version`, drawn from the table's counter (record_versions): on PostgreSQL as the
    column's default, which an INSERT returns; on SQLite the writer sets it."""
    next_version = record_versions.next_version_sql(table)
    if next_version is None:
        return models.BigIntegerField()
    return models.BigIntegerField(
        db_default=RawSQL(next_version, (), output_field=models.BigIntegerField())
    )


def primary_key_field(spec: dict[str, str]) -> models.Field:
    return PrimaryKeySpec.from_normal(spec).type.model_field()


def model_field(spec: dict[str, Any]) -> models.Field:
    field_spec = FieldSpec.from_normal(spec)
    field = field_spec.type.model_field(field_spec)
    field.null = field_spec.nullable
    field.blank = True
    if field_spec.default is not None and field_spec.has_default:
        # A constant database default: rows that exist when the column is added get it
        # without a rewrite, and writers still on the previous model (which omit the
        # column) never hit NOT NULL.
        field.db_default = field.to_python(field_spec.default)
    return field


def _meta(table: str, definition: dict[str, Any]) -> type:
    return type(
        "Meta",
        (),
        {
            "app_label": APP_LABEL,
            "db_table": table,
            "apps": Apps(),
            # Managed, so that the schema editor builds Meta.indexes with the table (it skips
            # them for unmanaged models). Migrations never see these models: they live in
            # their own Apps registry.
            "managed": True,
            "indexes": [
                index_object(table, spec) for spec in definition["indexes"] if not spec["unique"]
            ],
            "constraints": [
                *(unique_object(table, spec) for spec in definition["indexes"] if spec["unique"]),
                *check_constraints(table, definition["fields"]),
            ],
        },
    )


def index_object(table: str, spec: dict[str, Any]) -> models.Index:
    name = names.object_name("dsx", table, spec["type"], *spec["fields"])
    if spec["type"] == "btree":
        return models.Index(fields=spec["fields"], name=name)
    from django.contrib.postgres import indexes as pg

    classes = {"hash": pg.HashIndex, "gin": pg.GinIndex, "brin": pg.BrinIndex}
    return classes[spec["type"]](fields=spec["fields"], name=name)


def unique_object(table: str, spec: dict[str, Any]) -> models.UniqueConstraint:
    name = names.object_name("dsu", table, *spec["fields"])
    return models.UniqueConstraint(fields=spec["fields"], name=name)


def check_constraints(table: str, fields: list[dict[str, Any]]) -> list[models.CheckConstraint]:
    """min/max/choices are enforced by the database too, not only by the API."""
    checks = []
    for spec in fields:
        for option, lookup in (("min", "gte"), ("max", "lte"), ("choices", "in")):
            if spec.get(option) is None:
                continue
            name = names.object_name("dsc", table, spec["name"], option, spec[option])
            condition = models.Q(**{f"{spec['name']}__{lookup}": spec[option]})
            checks.append(models.CheckConstraint(condition=condition, name=name))
    return checks


def index_name(table: str, spec: dict[str, Any]) -> str:
    if spec["unique"]:
        return unique_object(table, spec).name
    return index_object(table, spec).name
