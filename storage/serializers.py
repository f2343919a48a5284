"""Record validation and representation, compiled once per storage version.

Validation uses strict DRF fields from the field-type registry. Representation does not go
through DRF: a precompiled list of (name, converter) pairs turns a row into JSON-ready
values, which is what every read pays for.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import orjson
from rest_framework import serializers

from core.errors import ValidationFailed
from core.problems import flatten_errors
from factory.schema.definition import SYSTEM_FIELDS
from factory.schema.fields import parse_integer
from factory.schema.types import KEY_VALUE_TYPES, value_field
from storage.accept import RecordAcceptor
from storage.keys import addressable, unaddressable

MAX_TEXT_KEY = 255


# orjson spells datetimes and UUIDs exactly as isoformat() (with Z for UTC) and str() do
# (test_serializers pins it), in a third of the time: a bulk answer holds tens of thousands.


def _utc(value: datetime.datetime) -> str:
    if value.tzinfo is not datetime.UTC:  # values written and read back are UTC already
        value = value.astimezone(datetime.UTC)
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)[1:-1].decode()


def _uuid(value: Any) -> str:
    return orjson.dumps(value)[1:-1].decode() if type(value) is uuid.UUID else str(value)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "decimal": lambda v: str(v) if isinstance(v, Decimal) else str(Decimal(str(v))),
    "date": lambda v: v.isoformat(),
    "datetime": _utc,
    "uuid": _uuid,
}


def _in_utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo is datetime.UTC else value.astimezone(datetime.UTC)


# What represent_all hands to orjson instead of a converter's string (None: the value).
_AT_RENDER: dict[Any, Any] = {_utc: _in_utc, _uuid: None, _CONVERTERS["date"]: None}


def converters(definition: dict[str, Any]) -> list[tuple[str, Callable[[Any], Any] | None]]:
    """(attribute, converter or None) for every column, in representation order."""
    pk = definition["primary_key"]
    pairs = [(pk["name"], _CONVERTERS.get(KEY_VALUE_TYPES[pk["type"]]))]
    pairs += [(spec["name"], _CONVERTERS.get(spec["type"])) for spec in definition["fields"]]
    pairs += [(name, _CONVERTERS.get(kind)) for name, kind in SYSTEM_FIELDS.items()]
    return pairs


class RowRecord:
    """A row's values (a dict by field name) as attributes, what represent() reads, without
    copying them: rows written by COPY."""

    def __init__(self, row: dict[str, Any], key_name: str) -> None:
        self.__dict__ = row
        self.pk = row[key_name]


def represent(row: Any, pairs: list[tuple[str, Callable[[Any], Any] | None]]) -> dict[str, Any]:
    record = {}
    for name, convert in pairs:
        value = getattr(row, name)
        record[name] = convert(value) if convert is not None and value is not None else value
    return record


def represent_all(
    rows: Iterable[dict[str, Any]], pairs: list[tuple[str, Any]]
) -> list[dict[str, Any]]:
    """represent() for many rows' values by field name (a page's `values()` rows, a bulk's
    `vars()` of its records), by a function made for `pairs`,
    for core.json.dumps to render: datetimes (in UTC), dates and UUIDs are left to orjson,
    which spells them as represent()'s converters do (test_serializers compares the
    bytes), in C and without a string per value."""
    represent_one = _representer(
        tuple((name, _AT_RENDER.get(convert, convert)) for name, convert in pairs)
    )
    return [represent_one(row) for row in rows]


@functools.lru_cache(maxsize=1024)
def _representer(pairs: tuple[tuple[str, Any], ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What represent() does for `pairs`, as one dict display: no loop, no getattr, a
    quarter faster, which a bulk answer of 10,000 records pays per record. Made the way
    dataclasses make their methods, from source; the names are storage field names
    (factory.schema.names: [a-z][a-z0-9_]*) and written as literals (repr) all the same."""
    namespace: dict[str, Any] = {}
    entries = []
    for position, (name, convert) in enumerate(pairs):
        if convert is None:
            entries.append(f"{name!r}: row[{name!r}]")
        else:
            namespace[f"convert_{position}"] = convert
            entries.append(
                f"{name!r}: None if (v_{position} := row[{name!r}]) is None"
                f" else convert_{position}(v_{position})"
            )
    source = "def represent_one(row):\n    return {" + ", ".join(entries) + "}\n"
    exec(source, namespace)  # generated from field names, see above
    return namespace["represent_one"]


def key_field(primary_key: dict[str, str], **kwargs: Any) -> serializers.Field:
    spec = {"type": KEY_VALUE_TYPES[primary_key["type"]]}
    if primary_key["type"] == "text":
        spec["max_length"] = MAX_TEXT_KEY
        # allow_blank would let "" past min_length: an empty key has no URL.
        kwargs.setdefault("allow_blank", False)
    return value_field(spec, **kwargs)


def parse_key(primary_key: dict[str, str], raw: str) -> Any:
    """The primary key from a URL segment, or None when it cannot be one (→ 404)."""
    kind = primary_key["type"]
    try:
        if kind in ("serial", "integer"):
            # One spelling per key: int() would also read " 7", "07", "-0", "7_0" and other
            # scripts' digits, giving one record many URLs.
            value = parse_integer(raw) if len(raw) <= 20 else None
            return value if value is not None and -(2**63) <= value < 2**63 else None
        if kind == "uuid":
            return uuid.UUID(raw)
    except ValueError:
        return None
    return raw


class RecordValidator:
    """Validates create/replace/patch bodies against one storage version."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.definition = definition
        self.primary_key = definition["primary_key"]
        self.specs = {spec["name"]: spec for spec in definition["fields"]}
        self.fields = {
            name: value_field(spec, required=False, allow_null=spec["nullable"])
            for name, spec in self.specs.items()
        }
        self.key_field = key_field(self.primary_key, required=False)
        self.acceptor = RecordAcceptor(definition, self.fields, self.key_field)

    def for_create(self, data: Any) -> dict[str, Any]:
        """Validated values for a new record, defaults applied. Raises ValidationFailed."""
        accepted = self.acceptor.accept(data)  # the common, plainly valid record: no DRF
        if accepted is not None:
            return accepted
        values, errors = self._check(data, allow_version=False)
        key_name = self.primary_key["name"]
        if key_name in data:
            self._validate_key(data[key_name], values, errors)
        elif self.primary_key["type"] in ("integer", "text"):
            errors[key_name] = ["This field is required: this storage has a natural key."]
        self._complete(data, values, errors)
        if errors:
            raise ValidationFailed(errors)
        return values

    def for_replace(self, data: Any, current_key: Any) -> tuple[dict[str, Any], Any]:
        """(values, body _version) for PUT: omitted fields fall back to default or null."""
        values, errors = self._check(data, allow_version=True)
        self._check_key_unchanged(data, current_key, errors)
        self._complete(data, values, errors)
        if errors:
            raise ValidationFailed(errors)
        return values, data.get("_version")

    def for_patch(self, data: Any, current_key: Any) -> tuple[dict[str, Any], Any]:
        values, errors = self._check(data, allow_version=True)
        self._check_key_unchanged(data, current_key, errors)
        if errors:
            raise ValidationFailed(errors)
        return values, data.get("_version")

    def _check(self, data: Any, *, allow_version: bool) -> tuple[dict, dict[str, list[str]]]:
        if not isinstance(data, dict):
            raise ValidationFailed({"non_field_errors": ["A record must be a JSON object."]})
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for name, raw in data.items():
            field = self.fields.get(name)
            if field is not None:
                self._validate(name, field, raw, values, errors)
            elif name == "_version" and allow_version:
                if isinstance(raw, bool) or not isinstance(raw, int):
                    errors[name] = ["Must be an integer: the version you last read."]
            elif name in SYSTEM_FIELDS:
                errors[name] = ["This system field is set by the server and cannot be written."]
            elif name != self.primary_key["name"]:
                errors[str(name)] = ["Unknown field."]
        return values, errors

    @staticmethod
    def _validate(name: str, field: serializers.Field, raw: Any, values: dict, errors: dict):
        try:
            values[name] = field.run_validation(raw)
        except serializers.ValidationError as exc:
            errors.update(flatten_errors(exc.detail, name))

    def _validate_key(self, raw: Any, values: dict, errors: dict) -> None:
        name = self.primary_key["name"]
        if self.primary_key["type"] == "serial":
            errors[name] = ["This key is generated by the server; leave it out."]
            return
        self._validate(name, self.key_field, raw, values, errors)
        if self.primary_key["type"] == "text" and name in values and not addressable(values[name]):
            errors[name] = [unaddressable(values.pop(name))]

    def _check_key_unchanged(self, data: dict, current_key: Any, errors: dict) -> None:
        name = self.primary_key["name"]
        if name not in data:
            return
        scratch: dict[str, Any] = {}
        self._validate(name, self.key_field, data[name], scratch, errors)
        if name in scratch and scratch[name] != current_key:
            errors[name] = ["The primary key cannot change."]

    def _complete(self, data: dict, values: dict, errors: dict) -> None:
        """Fill omitted fields with their default (or null), refusing omitted required ones."""
        for name, spec in self.specs.items():
            if name in data:
                continue
            if spec["required"]:
                errors[name] = ["This field is required."]
            elif "default" in spec:
                values[name] = self.fields[name].run_validation(spec["default"])
            elif spec["nullable"]:
                values[name] = None
            else:
                errors[name] = ["This field is required: it is not nullable and has no default."]
