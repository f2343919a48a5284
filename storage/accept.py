"""Accept a plainly valid new record without running DRF's fields.

DRF validation costs about 2 µs a value (run_validation, validator objects, lazy messages);
on a 10,000-item bulk create it was most of the request. A check here takes one raw JSON
value and returns what the storage's DRF field would return for it, or REFER when the value
is anything other than plainly valid: wrong type, out of range, an unusual spelling, a null.
A record with any REFER goes through RecordValidator's DRF fields in full, so every error,
and every value this module has no opinion on, stays DRF's: each check accepts a subset of
what its field accepts and returns the same value (storage/tests/test_accept.py compares
the two on edge cases of every type).
"""

from __future__ import annotations

import datetime
import math
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.settings import ISO_8601, api_settings

from factory.schema.fields import (
    INT64_MAX,
    INT64_MIN,
    JSON_INT_MAX,
    JSON_INT_MIN,
    PLAIN_DECIMAL,
    decimal_digits_kept,
    parse_date,
    parse_datetime,
    significant_digits,
)
from storage.keys import addressable

# "Let DRF decide": the value is not accepted outright (it may still be valid).
REFER: Any = object()

Check = Callable[[Any], Any]

# DRF's CharField refuses NUL (ProhibitNullCharactersValidator) and lone surrogates.
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")
# Integers a decimal check reads through str(); larger ones go to DRF.
_PLAIN_INT = 10**18


class RecordAcceptor:
    """`accept(data)`: the values `RecordValidator.for_create(data)` would return, or None
    when DRF must decide (an invalid record, or one this fast path does not vouch for)."""

    def __init__(
        self,
        definition: dict[str, Any],
        fields: dict[str, serializers.Field],
        key_field: serializers.Field,
    ) -> None:
        specs = definition["fields"]
        self.checks = {spec["name"]: value_check(spec, fields[spec["name"]]) for spec in specs}
        self.nullable = frozenset(spec["name"] for spec in specs if spec["nullable"])
        primary_key = definition["primary_key"]
        self.key_name = primary_key["name"]
        if primary_key["type"] != "serial":
            self.checks[self.key_name] = _key_check(primary_key["type"], key_field)
        self.key_required = primary_key["type"] in ("integer", "text")
        self.omitted = [
            (spec["name"], _omitted_value(spec, fields[spec["name"]])) for spec in specs
        ]

    def accept(self, data: Any) -> dict[str, Any] | None:
        if type(data) is not dict:
            return None
        values = self._given(data)
        if values is None:
            return None
        if self.key_name in values:
            given = len(values) - 1
        elif self.key_required:
            return None
        else:
            given = len(values)
        return values if given == len(self.omitted) else self._completed(values)

    def _given(self, data: dict[Any, Any]) -> dict[str, Any] | None:
        checks, nullable = self.checks, self.nullable
        values = {}
        for name, raw in data.items():
            check = checks.get(name)
            if check is None:  # unknown, system or serial key: DRF words the error
                return None
            if raw is None:
                if name not in nullable:
                    return None
                values[name] = None
                continue
            value = check(raw)
            if value is REFER:
                return None
            values[name] = value
        return values

    def _completed(self, values: dict[str, Any]) -> dict[str, Any] | None:
        for name, value in self.omitted:
            if name not in values:
                if value is REFER:
                    return None
                values[name] = value
        return values


def _omitted_value(spec: dict[str, Any], field: serializers.Field) -> Any:
    """What RecordValidator._complete fills in for an omitted field (REFER: an error)."""
    if spec["required"]:
        return REFER
    if "default" in spec:
        try:
            return field.run_validation(spec["default"])
        except serializers.ValidationError:
            return REFER
    return None if spec["nullable"] else REFER


def value_check(spec: dict[str, Any], field: serializers.Field) -> Check:
    """The check of one field's non-null values: the value DRF's `field` returns for a
    raw value, or REFER. (A null is the field's `nullable` alone: RecordAcceptor.)"""
    check = _CHECKS[spec["type"]](spec, field)
    if spec.get("choices"):
        check = _with_choices(check, spec["choices"], field.to_representation)
    return check


def _key_check(key_type: str, field: serializers.Field) -> Check:
    if key_type == "text":
        text = _text({"max_length": field.max_length}, field, allow_blank=False)

        def text_key(raw: Any) -> Any:  # a key without a URL of its own: DRF words it
            value = text(raw)
            return value if value is REFER or addressable(value) else REFER

        return text_key
    if key_type == "integer":
        return _integer({}, field)
    return _uuid({}, field)


def _with_choices(check: Check, choices: list[Any], represent: Callable[[Any], Any]) -> Check:
    # As types.choices_validator compares: the value's representation, by ==.
    allowed = list(choices)

    def one_of(raw: Any) -> Any:
        value = check(raw)
        if value is REFER or represent(value) not in allowed:
            return REFER
        return value

    return one_of


def _integer(spec: dict[str, Any], field: serializers.Field) -> Check:
    low = INT64_MIN if spec.get("min") is None else max(INT64_MIN, spec["min"])
    high = INT64_MAX if spec.get("max") is None else min(INT64_MAX, spec["max"])

    def integer(raw: Any) -> Any:
        return raw if type(raw) is int and low <= raw <= high else REFER

    return integer


def _float(spec: dict[str, Any], field: serializers.Field) -> Check:
    low, high = spec.get("min"), spec.get("max")

    def float_(raw: Any) -> Any:
        if type(raw) is not float and type(raw) is not int:
            return REFER
        try:
            value = float(raw)
        except OverflowError:
            return REFER
        if not math.isfinite(value):
            return REFER
        if (low is not None and value < low) or (high is not None and value > high):
            return REFER
        return value

    return float_


def _decimal(spec: dict[str, Any], field: serializers.Field) -> Check:
    max_digits, places = field.max_digits, field.decimal_places
    kept = decimal_digits_kept()
    low, high = field.min_value, field.max_value

    def decimal(raw: Any) -> Any:
        if type(raw) is int and -_PLAIN_INT < raw < _PLAIN_INT:
            raw = str(raw)  # DRF reads a number through its str() too
        if type(raw) is not str or len(raw) > field.MAX_STRING_LENGTH:
            return REFER
        match = PLAIN_DECIMAL.fullmatch(raw)
        if match is None:
            return REFER
        whole, fraction = match.groups(default="")
        # DecimalField.validate_precision's counts: Decimal drops leading zeros only.
        decimals = len(fraction)
        total = max(len((whole + fraction).lstrip("0")) or 1, decimals)
        if total > max_digits or decimals > places or total - decimals > max_digits - places:
            return REFER
        if kept is not None and significant_digits(raw) > kept:
            return REFER
        # What DecimalField.quantize makes of it: the same digits, zeros appended.
        padding = places - decimals
        value = Decimal(raw + ("." if padding and not decimals else "") + "0" * padding)
        if (low is not None and value < low) or (high is not None and value > high):
            return REFER
        return value

    return decimal


def _boolean(spec: dict[str, Any], field: serializers.Field) -> Check:
    def boolean(raw: Any) -> Any:
        return raw if raw is True or raw is False else REFER

    return boolean


def _text(spec: dict[str, Any], field: serializers.Field, *, allow_blank: bool = True) -> Check:
    max_length = spec.get("max_length")

    def text(raw: Any) -> Any:
        if type(raw) is not str:
            return REFER
        if raw == "":  # DRF's CharField answers "" before any validator runs
            return raw if allow_blank else REFER
        if max_length is not None and len(raw) > max_length:
            return REFER
        return REFER if _UNSAFE_TEXT.search(raw) else raw

    return text


def _date(spec: dict[str, Any], field: serializers.Field) -> Check:
    if not _iso_only(field, api_settings.DATE_INPUT_FORMATS):
        return _refer

    def date(raw: Any) -> Any:
        if type(raw) is not str:
            return REFER
        try:  # the field's own parsing
            return parse_date(raw)
        except ValueError:
            return REFER

    return date


def _datetime(spec: dict[str, Any], field: serializers.Field) -> Check:
    if not _iso_only(field, api_settings.DATETIME_INPUT_FORMATS):
        return _refer

    def datetime_(raw: Any) -> Any:
        if type(raw) is not str:
            return REFER
        try:  # the field's own parsing
            parsed = parse_datetime(raw)
        except ValueError:
            return REFER
        if parsed.utcoffset() is None:
            return REFER
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:
            return REFER

    return datetime_


def _uuid(spec: dict[str, Any], field: serializers.Field) -> Check:
    def uuid_(raw: Any) -> Any:
        if type(raw) is not str:
            return REFER
        try:  # DRF: uuid.UUID(hex=data)
            return uuid.UUID(raw)
        except ValueError:
            return REFER

    return uuid_


def _json(spec: dict[str, Any], field: serializers.Field) -> Check:
    def json(raw: Any) -> Any:
        return raw if _plain_json(raw, settings.MAX_JSON_DEPTH) else REFER

    return json


def _plain_json(value: Any, levels: int) -> bool:
    """Whether BoundedJSONField takes `value` as it is: at most `levels` deep, no NUL in
    strings or keys, numbers it keeps exactly (and, stricter, only the types JSON parsing
    yields: a Decimal, a number no double holds, goes to the field)."""
    if levels < 1:
        return False
    kind = type(value)
    if kind is str:
        return "\x00" not in value
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or "\x00" in key or not _plain_json(item, levels - 1):
                return False
        return True
    if kind is list:
        return all(_plain_json(item, levels - 1) for item in value)
    if kind is float:
        return math.isfinite(value)
    if kind is int:
        return JSON_INT_MIN <= value <= JSON_INT_MAX
    return kind is bool or value is None


def _refer(raw: Any) -> Any:
    return REFER


def _iso_only(field: serializers.Field, default_formats: list[str]) -> bool:
    formats = getattr(field, "input_formats", default_formats)
    return [str(f).lower() for f in formats] == [ISO_8601]


_CHECKS: dict[str, Callable[[dict[str, Any], serializers.Field], Check]] = {
    "integer": _integer,
    "float": _float,
    "decimal": _decimal,
    "boolean": _boolean,
    "text": _text,
    "date": _date,
    "datetime": _datetime,
    "uuid": _uuid,
    "json": _json,
}
