"""Validate a storage definition and bring it to its normal form.

The normal form is what is stored for each version and what versions are compared by:
every option filled in (`required`, `nullable`, index `type` and `unique`), defaults in
their canonical JSON representation, options that do not apply left out.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from rest_framework import serializers

from core.errors import ValidationFailed
from factory.schema import blocks, names
from factory.schema.distribution import normalize_distribution
from factory.schema.partitioning import normalize_partition
from factory.schema.retention import normalize_retention
from factory.schema.source import normalize_source
from factory.schema.specs import SYSTEM_FIELDS, FieldSpec
from factory.schema.types import (
    COMMON_OPTIONS,
    FIELD_TYPES,
    INDEX_TYPES,
    KEY_TYPES,
    POSTGRESQL_ONLY_INDEX_TYPES,
    PRIMARY_KEY_TYPES,
    value_field,
)

DEFINITION_KEYS = frozenset(
    {
        "name",
        "description",
        "primary_key",
        "fields",
        "indexes",
        "source",
        "retention",
        "distribution",
        "partition",
    }
)
PRIMARY_KEY_KEYS = frozenset({"name", "type"})
INDEX_KEYS = frozenset({"fields", "type", "unique"})
DEFAULT_PRIMARY_KEY = {"name": "id", "type": "serial"}
MAX_VARCHAR = 10_485_760
MAX_DESCRIPTION = 2_000


class _Errors:
    """Collects messages by dotted path, so one answer names every problem at once."""

    def __init__(self) -> None:
        self.by_path: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.by_path.setdefault(path, []).append(message)

    def unknown_keys(self, data: dict[str, Any], allowed: frozenset[str], path: str) -> None:
        blocks.unknown_keys(data, allowed, path, self.add)

    def raise_if_any(self) -> None:
        if self.by_path:
            raise ValidationFailed(self.by_path, "The storage definition is invalid; see errors.")


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def normalize_definition(data: Any) -> dict[str, Any]:
    """Validate a definition; return its normal form or raise ValidationFailed."""
    errors = _Errors()
    if not isinstance(data, dict):
        raise ValidationFailed({"non_field_errors": ["A definition must be a JSON object."]})
    errors.unknown_keys(data, DEFINITION_KEYS, "")
    result: dict[str, Any] = {
        "name": _storage_name(data, errors),
        "description": _description(data, errors),
        "primary_key": _primary_key(data.get("primary_key", DEFAULT_PRIMARY_KEY), errors),
    }
    result["fields"] = _fields(data, result["primary_key"], errors)
    errors.raise_if_any()
    result["indexes"] = _indexes(data.get("indexes", []), result["fields"], errors)
    source = _source(data.get("source"), result, errors)
    retention = normalize_retention(data.get("retention"), result, errors.add)
    distribution = normalize_distribution(data.get("distribution"), result, errors.add)
    partition = _partition(data.get("partition"), result, errors)
    errors.raise_if_any()
    if source is not None:
        result["source"] = source
    if retention is not None:
        result["retention"] = retention
    if distribution is not None:
        result["distribution"] = distribution
    if partition is not None:
        result["partition"] = partition
    return result


def _partition(partition: Any, definition: dict[str, Any], errors: _Errors) -> Any:
    if partition is not None:
        _needs_postgresql("partitioned storages", "partition", errors)
    return normalize_partition(partition, definition, errors.add)


def _source(source: Any, definition: dict[str, Any], errors: _Errors) -> dict[str, Any] | None:
    writable = {spec["name"] for spec in definition["fields"]}
    if not KEY_TYPES[definition["primary_key"]["type"]].generated:
        writable.add(definition["primary_key"]["name"])
    return normalize_source(source, writable, errors.add, definition)


def _storage_name(data: dict[str, Any], errors: _Errors) -> str:
    if "name" not in data:
        errors.add("name", "This field is required.")
        return ""
    problem = names.storage_name_problem(data["name"])
    if problem:
        errors.add("name", problem)
    return data["name"]


def _description(data: dict[str, Any], errors: _Errors) -> str:
    description = data.get("description", "")
    if description is None:
        return ""
    if not isinstance(description, str):
        errors.add("description", "must be a string")
    elif len(description) > MAX_DESCRIPTION:
        errors.add("description", f"must be at most {MAX_DESCRIPTION} characters")
    return description if isinstance(description, str) else ""


def _primary_key(data: Any, errors: _Errors) -> dict[str, str]:
    if not isinstance(data, dict):
        errors.add("primary_key", "must be an object with 'name' and 'type'")
        return dict(DEFAULT_PRIMARY_KEY)
    errors.unknown_keys(data, PRIMARY_KEY_KEYS, "primary_key")
    name = data.get("name", "id")
    problem = names.name_problem(name)
    if problem:
        errors.add("primary_key.name", problem)
    pk_type = data.get("type", "serial")
    if pk_type not in PRIMARY_KEY_TYPES:
        errors.add(
            "primary_key.type",
            f"unknown primary key type {pk_type!r}; expected one of {', '.join(PRIMARY_KEY_TYPES)}",
        )
    return {"name": name, "type": pk_type}


def _fields(data: dict[str, Any], primary_key: dict[str, str], errors: _Errors) -> list[dict]:
    fields = data.get("fields")
    if "fields" not in data:
        errors.add("fields", "This field is required.")
        return []
    if not isinstance(fields, list) or not fields:
        errors.add("fields", "must be a non-empty list of field objects")
        return []
    limit = settings.MAX_FIELDS_PER_STORAGE
    if len(fields) > limit:
        errors.add("fields", f"at most {limit} fields are allowed; got {len(fields)}")
        return []
    seen: set[str] = set()
    result = []
    for index, spec in enumerate(fields):
        path = f"fields.{index}"
        normalized = normalize_field(spec, path, errors)
        name = normalized.get("name")
        if isinstance(name, str):
            if name == primary_key["name"]:
                errors.add(f"{path}.name", f"'{name}' is the primary key's name")
            elif name in seen:
                errors.add(f"{path}.name", f"duplicate field name '{name}'")
            seen.add(name)
        result.append(normalized)
    return result


def normalize_field(spec: Any, path: str, errors: _Errors) -> dict[str, Any]:
    """Validate one field spec; report problems under `path`; return its normal form."""
    if not isinstance(spec, dict):
        errors.add(path, "must be an object with at least 'name' and 'type'")
        return {}
    name = spec.get("name")
    problem = names.name_problem(name) if "name" in spec else "This field is required."
    if problem:
        errors.add(f"{path}.name", problem)
    field_type = FIELD_TYPES.get(spec.get("type")) if isinstance(spec.get("type"), str) else None
    if field_type is None:
        expected = ", ".join(FIELD_TYPES)
        message = (
            f"unknown type {spec['type']!r}; expected one of {expected}"
            if "type" in spec
            else f"This field is required; one of {expected}."
        )
        errors.add(f"{path}.type", message)
        return {"name": name}
    errors.unknown_keys(spec, COMMON_OPTIONS | field_type.options, path)
    before = len(errors.by_path)
    result = {"name": name, "type": field_type.name, **_flags(spec, path, errors)}
    result.update(_type_options(spec, field_type.name, path, errors))
    if len(errors.by_path) == before and "default" in spec:
        result["default"] = _default(spec, result, path, errors)
    return result


def _flags(spec: dict[str, Any], path: str, errors: _Errors) -> dict[str, bool]:
    required = spec.get("required", False)
    if not isinstance(required, bool):
        errors.add(f"{path}.required", "must be true or false")
        required = False
    nullable = spec.get("nullable", not required)
    if not isinstance(nullable, bool):
        errors.add(f"{path}.nullable", "must be true or false")
        nullable = True
    return {"required": required, "nullable": nullable}


def _type_options(spec: dict[str, Any], type_name: str, path: str, errors: _Errors) -> dict:
    options: dict[str, Any] = {}
    takes = FIELD_TYPES[type_name].options
    if "max_length" in takes and spec.get("max_length") is not None:
        options["max_length"] = _positive_int(spec, "max_length", MAX_VARCHAR, path, errors)
    if "max_digits" in takes:
        options.update(_decimal_options(spec, path, errors))
    if any(errors.by_path.get(f"{path}.{key}") for key in options):
        return options
    base = {"type": type_name, **options}
    for bound in ("min", "max"):
        if spec.get(bound) is not None:
            options[bound] = _typed_value(spec[bound], base, f"{path}.{bound}", errors)
    # Bounds are compared only once both are valid values (a refused one may be any JSON).
    valid = "min" in options and "max" in options
    valid = valid and not any(errors.by_path.get(f"{path}.{b}") for b in ("min", "max"))
    if valid and _gt(options["min"], options["max"]):
        errors.add(f"{path}.min", "must not be greater than max")
    if spec.get("choices") is not None:
        options["choices"] = _choices(spec["choices"], {"type": type_name, **options}, path, errors)
    return options


def _decimal_options(spec: dict[str, Any], path: str, errors: _Errors) -> dict[str, int]:
    digits = _positive_int(spec, "max_digits", 1000, path, errors, required=True)
    places = spec.get("decimal_places")
    if "decimal_places" not in spec:
        errors.add(f"{path}.decimal_places", "required for decimal fields")
    elif isinstance(places, bool) or not isinstance(places, int) or places < 0:
        errors.add(f"{path}.decimal_places", "must be an integer >= 0")
    elif isinstance(digits, int) and places > digits:
        errors.add(f"{path}.decimal_places", "must not be greater than max_digits")
    return {"max_digits": digits, "decimal_places": places}


def _positive_int(
    spec: dict[str, Any],
    key: str,
    upper: int,
    path: str,
    errors: _Errors,
    required: bool = False,
) -> Any:
    value = spec.get(key)
    if value is None:
        if required:
            errors.add(f"{path}.{key}", f"required for {spec.get('type')} fields")
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
        errors.add(f"{path}.{key}", f"must be an integer from 1 to {upper}")
    return value


def _choices(choices: Any, spec: dict[str, Any], path: str, errors: _Errors) -> list[Any]:
    if not isinstance(choices, list) or not choices:
        errors.add(f"{path}.choices", "must be a non-empty list")
        return []
    values = [_typed_value(c, spec, f"{path}.choices.{i}", errors) for i, c in enumerate(choices)]
    if len({repr(v) for v in values}) != len(values):
        errors.add(f"{path}.choices", "must not repeat a value")
    return values


def _typed_value(value: Any, spec: dict[str, Any], path: str, errors: _Errors) -> Any:
    """Validate one value against a field spec; return its canonical JSON form."""
    field = value_field(FieldSpec.from_normal(spec), allow_null=False)
    try:
        return field.to_representation(field.run_validation(value))
    except serializers.ValidationError as exc:
        for message in exc.detail if isinstance(exc.detail, list) else [exc.detail]:
            errors.add(path, str(message))
        return value


def _default(spec: dict[str, Any], normalized: dict[str, Any], path: str, errors: _Errors):
    if spec["default"] is None:
        if not normalized["nullable"]:
            errors.add(f"{path}.default", "null is not allowed: the field is not nullable")
        return None
    return _typed_value(spec["default"], normalized, f"{path}.default", errors)


def _gt(a: Any, b: Any) -> bool:
    from decimal import Decimal

    if isinstance(a, str) or isinstance(b, str):
        return Decimal(str(a)) > Decimal(str(b))
    return a > b


def _indexes(indexes: Any, fields: list[dict], errors: _Errors) -> list[dict[str, Any]]:
    if not isinstance(indexes, list):
        errors.add("indexes", "must be a list of index objects")
        return []
    types = {f["name"]: f["type"] for f in fields} | SYSTEM_FIELDS
    result: list[dict[str, Any]] = []
    for position, spec in enumerate(indexes):
        path = f"indexes.{position}"
        index = normalize_index(spec, types, path, errors)
        if index and any(_same_index(index, other) for other in result):
            errors.add(path, "duplicate index")
        if index:
            result.append(index)
    return result


def _same_index(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["fields"] == b["fields"] and a["type"] == b["type"]


def normalize_index(
    spec: Any, types: dict[str, str], path: str, errors: _Errors
) -> dict[str, Any] | None:
    if not isinstance(spec, dict):
        errors.add(path, "must be an object with 'fields'")
        return None
    errors.unknown_keys(spec, INDEX_KEYS, path)
    index_type, unique = spec.get("type", "btree"), spec.get("unique", False)
    fields = spec.get("fields")
    before = len(errors.by_path)
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        errors.add(f"{path}.fields", "must be a non-empty list of field names")
    elif len(set(fields)) != len(fields):
        errors.add(f"{path}.fields", "must not name a field twice")
    else:
        for unknown in (f for f in fields if f not in types):
            errors.add(f"{path}.fields", f"unknown field '{unknown}'")
    if index_type not in INDEX_TYPES:
        errors.add(
            f"{path}.type",
            f"unknown index type {index_type!r}; expected one of {', '.join(INDEX_TYPES)}",
        )
    if not isinstance(unique, bool):
        errors.add(f"{path}.unique", "must be true or false")
    if len(errors.by_path) != before:
        return None
    _check_index_fit(index_type, unique, fields, types, path, errors)
    return {"fields": fields, "type": index_type, "unique": unique}


def _check_index_fit(
    index_type: str,
    unique: bool,
    fields: list[str],
    types: dict[str, str],
    path: str,
    errors: _Errors,
) -> None:
    if unique and index_type != "btree":
        errors.add(f"{path}.unique", "only btree indexes can be unique")
    if index_type == "hash" and len(fields) > 1:
        errors.add(f"{path}.fields", "a hash index covers exactly one field")
    for name in fields:
        if index_type not in FIELD_TYPES[types[name]].index_types:
            errors.add(
                f"{path}.type",
                f"a {index_type} index does not fit field '{name}' of type {types[name]}",
            )
    if index_type in POSTGRESQL_ONLY_INDEX_TYPES:
        _needs_postgresql(f"{index_type} indexes", f"{path}.type", errors)


def _needs_postgresql(what: str, path: str, errors: _Errors) -> None:
    """The one rule for what only PostgreSQL can do (some index types, partitioning)."""
    if connection.vendor != "postgresql":
        errors.add(path, f"{what} need PostgreSQL; this service runs on {connection.vendor}")
