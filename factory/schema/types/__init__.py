"""The type registry: one class per field type and per primary-key type.

Each class (factory/schema/types/base.py names its hooks) supplies everything the rest of
the service does with a value of its type: the model field, strict validation (the
serializer field), the fast accept check, representation, filter lookups and their
filters, whether it orders a list, its OpenAPI schema, its COPY type and how a CSV cell
holds it. The modules that act on values (factory.schema.builder and definition,
storage.serializers, accept, filters, contract, storage.sql.bulk, storage.export,
ingest.files) ask the class and name no type. Adding a type is one @register-ed class in a
module of this package (imported below) plus its tests: docs/architecture.md, "Adding a
field type".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rest_framework import serializers

# isort: off
# The modules holding the built-in types, imported for their @register, in the order
# definitions' messages list the types.
from factory.schema.types import numbers, boolean, text, temporal, uuids, json_documents  # noqa: F401
from factory.schema.types import keys  # noqa: F401

# isort: on
from factory.schema.types.base import (
    FIELD_TYPES,
    KEY_TYPES,
    REFER,
    Check,
    Converter,
    FieldType,
    KeyType,
    register,
    unregister,
)

if TYPE_CHECKING:
    from factory.schema.specs import FieldSpec

__all__ = [
    "COMMON_OPTIONS",
    "FIELD_TYPES",
    "INDEX_TYPES",
    "KEY_TYPES",
    "KEY_VALUE_TYPES",
    "POSTGRESQL_ONLY_INDEX_TYPES",
    "PRIMARY_KEY_TYPES",
    "REFER",
    "Check",
    "Converter",
    "FieldType",
    "KeyType",
    "choices_validator",
    "register",
    "unregister",
    "value_field",
]

# Options every type accepts, besides its own.
COMMON_OPTIONS = frozenset({"name", "type", "required", "nullable", "default"})
PRIMARY_KEY_TYPES = tuple(KEY_TYPES)
# The field type whose values a primary key of each type holds, by name.
KEY_VALUE_TYPES = {name: key.value_type.name for name, key in KEY_TYPES.items()}
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


def value_field(spec: FieldSpec, **kwargs: Any) -> serializers.Field:
    """The strict serializer field that validates one value of this field spec."""
    field = spec.type.serializer_field(spec, **kwargs)
    if spec.choices:
        field.validators.append(choices_validator(spec.choices, field.to_representation))
    return field
