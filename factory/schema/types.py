"""The field-type registry: each storage field type in one place.

A type supplies its options, its Django model field, its strict serializer field, the
filter lookups it supports and the index types that fit it. Adding a type touches only
this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models
from rest_framework import serializers

from factory.schema import fields as strict

COMPARISONS = ("exact", "in", "gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class FieldType:
    name: str
    model_field: Callable[[dict[str, Any]], models.Field]
    serializer_field: Callable[..., serializers.Field]
    options: frozenset[str] = frozenset()
    lookups: tuple[str, ...] = ("exact", "in")
    index_types: frozenset[str] = frozenset({"btree", "hash"})


def _text_model_field(spec: dict[str, Any]) -> models.Field:
    if spec.get("max_length"):
        return models.CharField(max_length=spec["max_length"])
    return models.TextField()


def _text_serializer_field(spec: dict[str, Any], **kwargs: Any) -> serializers.Field:
    return strict.StrictTextField(max_length=spec.get("max_length"), **kwargs)


def _number_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    # Decimal bounds are stored as strings (exact); validators compare Decimals.
    def bound(option: str) -> Any:
        value = spec.get(option)
        if value is None or spec["type"] != "decimal":
            return value
        return Decimal(str(value))

    return {"min_value": bound("min"), "max_value": bound("max")}


def _decimal_serializer_field(spec: dict[str, Any], **kwargs: Any) -> serializers.Field:
    return strict.StrictDecimalField(
        max_digits=spec["max_digits"],
        decimal_places=spec["decimal_places"],
        coerce_to_string=True,
        **_number_kwargs(spec),
        **kwargs,
    )


_ORDERED = frozenset({"btree", "hash", "brin"})

FIELD_TYPES: dict[str, FieldType] = {
    t.name: t
    for t in (
        FieldType(
            "integer",
            lambda s: models.BigIntegerField(),
            lambda s, **kw: strict.StrictIntegerField(**_number_kwargs(s), **kw),
            options=frozenset({"min", "max", "choices"}),
            lookups=COMPARISONS,
            index_types=_ORDERED,
        ),
        FieldType(
            "float",
            lambda s: models.FloatField(),
            lambda s, **kw: strict.StrictFloatField(**_number_kwargs(s), **kw),
            options=frozenset({"min", "max", "choices"}),
            lookups=COMPARISONS,
            index_types=_ORDERED,
        ),
        FieldType(
            "decimal",
            lambda s: models.DecimalField(
                max_digits=s["max_digits"], decimal_places=s["decimal_places"]
            ),
            _decimal_serializer_field,
            options=frozenset({"min", "max", "choices", "max_digits", "decimal_places"}),
            lookups=COMPARISONS,
            index_types=_ORDERED,
        ),
        FieldType(
            "boolean",
            lambda s: models.BooleanField(),
            lambda s, **kw: strict.StrictBooleanField(**kw),
        ),
        FieldType(
            "text",
            _text_model_field,
            _text_serializer_field,
            options=frozenset({"max_length", "choices"}),
            lookups=("exact", "in", "contains", "icontains", "startswith"),
        ),
        FieldType(
            "date",
            lambda s: models.DateField(),
            lambda s, **kw: strict.StrictDateField(**kw),
            options=frozenset({"choices"}),
            lookups=COMPARISONS,
            index_types=_ORDERED,
        ),
        FieldType(
            "datetime",
            lambda s: models.DateTimeField(),
            lambda s, **kw: strict.StrictDateTimeField(**kw),
            lookups=COMPARISONS,
            index_types=_ORDERED,
        ),
        FieldType(
            "uuid",
            lambda s: models.UUIDField(),
            lambda s, **kw: strict.StrictUUIDField(**kw),
            options=frozenset({"choices"}),
        ),
        FieldType(
            "json",
            lambda s: models.JSONField(),
            lambda s, **kw: strict.BoundedJSONField(**kw),
            lookups=("has_key", "contains"),
            index_types=frozenset({"gin"}),
        ),
    )
}

# Options every type accepts, besides its own.
COMMON_OPTIONS = frozenset({"name", "type", "required", "nullable", "default"})

PRIMARY_KEY_TYPES = ("serial", "uuid", "integer", "text")
# The field type whose values a primary key of each type holds (validation, filters,
# representation and the OpenAPI contract all treat a key as a value of that type).
KEY_VALUE_TYPES = {"serial": "integer", "integer": "integer", "uuid": "uuid", "text": "text"}
INDEX_TYPES = ("btree", "hash", "gin", "brin")
POSTGRESQL_ONLY_INDEX_TYPES = frozenset({"hash", "gin", "brin"})


def choices_validator(choices: list[Any], represent: Callable[[Any], Any]) -> Callable[[Any], None]:
    """Compare in the canonical JSON form, the form in which choices are stored."""
    allowed = list(choices)

    def validate(value: Any) -> None:
        if value is not None and represent(value) not in allowed:
            raise serializers.ValidationError(
                f"{represent(value)!r} is not one of the choices {allowed!r}."
            )

    return validate


def value_field(spec: dict[str, Any], **kwargs: Any) -> serializers.Field:
    """The strict serializer field that validates one value of this field spec."""
    field = FIELD_TYPES[spec["type"]].serializer_field(spec, **kwargs)
    if spec.get("choices"):
        field.validators.append(choices_validator(spec["choices"], field.to_representation))
    return field
