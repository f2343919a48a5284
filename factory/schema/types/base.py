"""What a field type and a primary-key type are: the hooks every consumer asks, and the registry.

Each hook is resolved once per storage version (a validator, a list of converters, a filter
set, a COPY statement are compiled from them and cached with the version's runtime), so
per-value code calls the type's own function, never a lookup through here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    import django_filters as df
    from django.db import models
    from rest_framework import serializers

    from factory.schema.specs import FieldSpec

# What a fast accept check returns for a value it does not vouch for: "let DRF decide".
REFER: Any = object()
# A fast accept check: a raw JSON value -> what the type's serializer field returns, or REFER.
Check = Callable[[Any], Any]
# A stored value (never None) -> its JSON-ready representation.
Converter = Callable[[Any], Any]

COMPARISONS = ("exact", "in", "gt", "gte", "lt", "lte")
ORDERED_INDEXES = frozenset({"btree", "hash", "brin"})


class FieldType:
    """One field type: subclass it, set the class attributes, implement every hook that
    raises NotImplementedError here, and decorate it with @register. Hooks are class
    methods taking the field's FieldSpec; nothing is instantiated."""

    name: ClassVar[str]
    # Options it takes besides COMMON_OPTIONS (checked and normalised by
    # factory.schema.definition, which knows min/max/choices/max_length/decimal options).
    options: ClassVar[frozenset[str]] = frozenset()
    # Filter lookups, in the order the contract lists them (`isnull` comes with nullable).
    lookups: ClassVar[tuple[str, ...]] = ("exact", "in")
    index_types: ClassVar[frozenset[str]] = frozenset({"btree", "hash"})
    # Whether a list can be ordered by it (a cursor compares its values).
    orderable: ClassVar[bool] = True
    # Its OpenAPI schema, before a field's constraints.
    openapi: ClassVar[dict[str, Any]]
    # The PostgreSQL type COPY BINARY dumps its values as (psycopg's dumper by that name).
    copy_as: ClassVar[str]
    # How a CSV cell holds it (storage.export writes, ingest.files reads): "plain" as its
    # JSON representation's str(), "text" neutralised against formulas with "" for empty
    # text, "json" as JSON text, neutralised.
    csv_form: ClassVar[str] = "plain"
    # Representation (storage.serializers): stored value -> JSON-ready value, None when
    # the value is JSON-ready as it is; `render`: what a bulk answer hands to orjson instead
    # (None: the value itself), when orjson spells the value as `represent` would.
    represent: ClassVar[Converter | None] = None
    render: ClassVar[Converter | None]
    # A valid value, before a field's constraints (`example` fits it to them).
    sample: ClassVar[Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "render" not in cls.__dict__ and "represent" in cls.__dict__:
            cls.render = cls.represent

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        """The Django model field (null, blank and db_default are set by the builder)."""
        raise NotImplementedError

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        """The strict DRF field that validates a value (factory.schema.fields)."""
        raise NotImplementedError

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        """The fast accept check of a non-null value: a subset of what `field` accepts,
        returning what it returns (storage/tests/test_accept.py compares the two)."""
        raise NotImplementedError

    @classmethod
    def filter(cls, field_name: str, lookup: str) -> df.Filter:
        """The django-filter Filter of one of `lookups` (`isnull` is storage.filters')."""
        if lookup == "in":
            return cls.in_filter(field_name=field_name, lookup_expr="in")
        return cls.scalar_filter(field_name=field_name, lookup_expr=lookup)

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        raise NotImplementedError

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        raise NotImplementedError

    @classmethod
    def schema(cls, spec: FieldSpec) -> dict[str, Any]:
        """The OpenAPI schema of a value with the field's own constraints (enum, nullable,
        default and description are added by storage.contract)."""
        return dict(cls.openapi)

    @classmethod
    def description(cls, spec: FieldSpec) -> str | None:
        """A sentence for the contract, where the schema cannot say it all."""
        return None

    @classmethod
    def example(cls, spec: FieldSpec) -> Any:
        """A value the field accepts, as JSON sends it: the contract's example record, which
        Swagger UI's "Try it out" sends as it is (`choices` are storage.contract's)."""
        return cls.sample

    @classmethod
    def copy_type(cls, spec: FieldSpec) -> str:
        return cls.copy_as

    @classmethod
    def from_csv(cls, cell: str) -> Any:
        """A non-empty CSV cell's value, for the serializer field to validate (a text or
        json cell arrives without the ' that neutralised it). Raises ValueError."""
        return cell


class KeyType:
    """One primary-key type: its values are those of `value_type`; @register it too."""

    name: ClassVar[str]
    value_type: ClassVar[type[FieldType]]
    # The server makes the key (from a sequence); a client never sends it.
    generated: ClassVar[bool] = False
    # A natural key: a client must send it (a uuid key is made when it is left out).
    natural: ClassVar[bool] = False
    copy_as: ClassVar[str]

    @classmethod
    def model_field(cls) -> models.Field:
        raise NotImplementedError

    @classmethod
    def value_spec(cls, name: str) -> FieldSpec:
        """The key as a field of `value_type`: what validates, filters and shows it."""
        from factory.schema.specs import FieldSpec

        return FieldSpec(name=name, type=cls.value_type)

    @classmethod
    def serializer_field(cls, name: str, **kwargs: Any) -> serializers.Field:
        return cls.value_type.serializer_field(cls.value_spec(name), **kwargs)

    @classmethod
    def accept_check(cls, field: serializers.Field) -> Check:
        return cls.value_type.accept_check(cls.value_spec(""), field)

    @classmethod
    def problem(cls, value: Any) -> str | None:
        """Why a valid value of `value_type` still cannot be a key (None: it can)."""
        return None

    @classmethod
    def from_url(cls, raw: str) -> Any:
        """The key from its URL segment, or None when no key is spelled so (a 404)."""
        raise NotImplementedError

    @classmethod
    def schema(cls) -> dict[str, Any]:
        return dict(cls.value_type.openapi)

    @classmethod
    def example(cls) -> Any:
        """A key a client may send (for a natural key, the contract's example record)."""
        return cls.value_type.example(cls.value_spec(""))


FIELD_TYPES: dict[str, type[FieldType]] = {}
KEY_TYPES: dict[str, type[KeyType]] = {}
T = TypeVar("T", type[FieldType], type[KeyType])


def register(cls: T) -> T:
    """Class decorator: make a type known by its name (to definitions and every consumer)."""
    registry: dict[str, Any] = KEY_TYPES if issubclass(cls, KeyType) else FIELD_TYPES
    if cls.name in registry:
        raise ValueError(f"a type named {cls.name!r} is registered already")
    registry[cls.name] = cls
    return cls


def unregister(cls: type[FieldType] | type[KeyType]) -> None:
    """Forget a type (tests that register one of their own)."""
    registry: dict[str, Any] = KEY_TYPES if issubclass(cls, KeyType) else FIELD_TYPES
    del registry[cls.name]
