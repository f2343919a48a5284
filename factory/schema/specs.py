"""A storage definition's normal form as typed objects: what the modules that act on a
definition read, instead of a dict by string keys.

The normal form (factory.schema.definition) stays what is stored and compared, as JSON; these
objects are made from it (`from_normal`) when a storage version is compiled, and carry each
field's and the key's type as its class from the registry (factory.schema.types).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from factory.schema.types import FIELD_TYPES, KEY_TYPES, FieldType, KeyType

# System columns every table has, by value type; indexable and orderable, never written.
SYSTEM_FIELDS = {"_version": "integer", "_created_at": "datetime", "_updated_at": "datetime"}
# A field's `default` when it has none (null is a default).
NO_DEFAULT: Any = type("NoDefault", (), {"__repr__": lambda self: "NO_DEFAULT"})()


@dataclass(frozen=True)
class FieldSpec:
    """One field. Options a type does not take are None."""

    name: str
    type: type[FieldType]
    required: bool = False
    nullable: bool = False
    default: Any = NO_DEFAULT
    max_length: int | None = None
    min: Any = None
    max: Any = None
    choices: list[Any] | None = None
    max_digits: int | None = None
    decimal_places: int | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    @classmethod
    def from_normal(cls, spec: dict[str, Any]) -> FieldSpec:
        """From a field's normal form, or a part of it (a type and its options: what a
        default or a bound is validated against while a definition is normalised)."""
        return cls(
            name=spec.get("name", ""),
            type=FIELD_TYPES[spec["type"]],
            required=spec.get("required", False),
            nullable=spec.get("nullable", False),
            default=spec.get("default", NO_DEFAULT),
            max_length=spec.get("max_length"),
            min=spec.get("min"),
            max=spec.get("max"),
            choices=spec.get("choices"),
            max_digits=spec.get("max_digits"),
            decimal_places=spec.get("decimal_places"),
        )


@dataclass(frozen=True)
class PrimaryKeySpec:
    name: str
    type: type[KeyType]

    @classmethod
    def from_normal(cls, spec: dict[str, Any]) -> PrimaryKeySpec:
        return cls(name=spec["name"], type=KEY_TYPES[spec["type"]])


@dataclass(frozen=True)
class IndexSpec:
    fields: tuple[str, ...]
    type: str
    unique: bool

    @classmethod
    def from_normal(cls, spec: dict[str, Any]) -> IndexSpec:
        return cls(fields=tuple(spec["fields"]), type=spec["type"], unique=spec["unique"])


@dataclass(frozen=True)
class StorageSpec:
    """A whole definition (its `source` block stays a dict: only ingest routing reads it)."""

    name: str
    description: str
    primary_key: PrimaryKeySpec
    fields: tuple[FieldSpec, ...]
    indexes: tuple[IndexSpec, ...]
    source: dict[str, Any] | None = None
    partition: dict[str, Any] | None = None  # factory.schema.partitioning

    @property
    def partitioned(self) -> bool:
        return self.partition is not None

    @classmethod
    def from_normal(cls, definition: dict[str, Any]) -> StorageSpec:
        """From the normal form (or the part a caller has: keys and fields at least)."""
        return cls(
            name=definition.get("name", ""),
            description=definition.get("description", ""),
            primary_key=PrimaryKeySpec.from_normal(definition["primary_key"]),
            fields=tuple(FieldSpec.from_normal(spec) for spec in definition["fields"]),
            indexes=tuple(IndexSpec.from_normal(spec) for spec in definition.get("indexes", ())),
            source=definition.get("source"),
            partition=definition.get("partition"),
        )

    @property
    def orderable(self) -> list[str]:
        """The fields a list may be ordered by, in the order the contract lists them."""
        return [
            self.primary_key.name,
            *SYSTEM_FIELDS,
            *(spec.name for spec in self.fields if spec.type.orderable),
        ]
