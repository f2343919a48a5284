"""Strict serializer fields for record values.

DRF's stock fields are lenient by design ("3" is an integer, "true" a boolean); a typed
storage must not be: a value of the wrong JSON type is refused, never coerced. The
spellings a string may take are defined once, by the parse_* functions below, which the
types' fast accept checks (factory/schema/types, for storage/accept.py) call too.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework import serializers

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# The integers a json value keeps: what orjson renders (64 bits, signed or unsigned).
JSON_INT_MIN, JSON_INT_MAX = INT64_MIN, 2**64 - 1

# ASCII digits only ([0-9], not \d: other scripts' digits are digits to int() and re).
# An integer in a URL or a query: one spelling per number (no "01", "-0", "+1", " 1").
_INTEGER_STRING = re.compile(r"0|-?[1-9][0-9]*")
# A decimal as a string: plain notation (no exponent, "_", spaces, "+", ".5" or "5.").
PLAIN_DECIMAL = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")
# RFC 3339's date and date-time (a space may stand for "T"; at most microseconds; an
# offset in hours and minutes). A date-time without an offset parses, to be refused as naive.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)


# SQLite has no exact numeric type: Django stores a decimal there as a double and reads it
# back to 15 significant digits, so more would be rounded (or fail to read back).
SQLITE_DECIMAL_DIGITS = 15


def decimal_digits_kept() -> int | None:
    """How many significant digits the database keeps of a decimal (None: all declared)."""
    return SQLITE_DECIMAL_DIGITS if connection.vendor == "sqlite" else None


def significant_digits(plain: str) -> int:
    """Significant digits of a decimal in plain notation ("-0012.50": 3)."""
    return len(plain.replace("-", "").replace(".", "").strip("0"))


def parse_integer(raw: str) -> int:
    """An integer in its one decimal spelling; ValueError otherwise (int() raises it too
    beyond 4,300 digits)."""
    if not _INTEGER_STRING.fullmatch(raw):
        raise ValueError(f"not an integer: {raw[:50]!r}")
    return int(raw)


def parse_date(raw: str) -> datetime.date:
    """YYYY-MM-DD, a real date; ValueError otherwise."""
    if not _ISO_DATE.fullmatch(raw):
        raise ValueError(f"not YYYY-MM-DD: {raw!r}")
    return datetime.date.fromisoformat(raw)


def parse_datetime(raw: str) -> datetime.datetime:
    """An RFC 3339 date-time (naive when it has no offset); ValueError otherwise."""
    if not _ISO_DATETIME.fullmatch(raw):
        raise ValueError(f"not an RFC 3339 date-time: {raw!r}")
    return datetime.datetime.fromisoformat(raw)


def json_number_kept(value: int | float | decimal.Decimal) -> bool:
    """Whether a parsed JSON number is kept exactly in a json value (core.json.loads makes
    a Decimal only of a number no double holds; orjson renders integers of 64 bits)."""
    if type(value) is int:
        return JSON_INT_MIN <= value <= JSON_INT_MAX
    return type(value) is float and math.isfinite(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {
        "invalid": "Must be an integer (a JSON number without a fraction).",
        "range": "Must be between -2^63 and 2^63-1.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        if not INT64_MIN <= data <= INT64_MAX:
            self.fail("range")
        return data


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"invalid": "Must be a finite JSON number."}

    def to_internal_value(self, data: Any) -> float:
        if not _is_number(data):
            self.fail("invalid")
        try:  # the nearest double, also of an exact Decimal or a large integer
            value = float(data)
        except OverflowError:
            self.fail("invalid")
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class StrictDecimalField(serializers.DecimalField):
    default_error_messages = {
        "invalid": "Must be a decimal number, as a string or a number.",
        "kept": "Has more than the {kept} significant digits {vendor} keeps of a decimal.",
    }

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        # DRF's DecimalField turns "" into null; a typed storage refuses it instead.
        return serializers.Field.validate_empty_values(self, data)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            if len(data) <= self.MAX_STRING_LENGTH and not PLAIN_DECIMAL.fullmatch(data):
                self.fail("invalid")
        elif not _is_number(data) or (isinstance(data, float) and not math.isfinite(data)):
            self.fail("invalid")
        # DRF's checks refuse more digits or places than declared; none rounds.
        value = super().to_internal_value(data)
        kept = decimal_digits_kept()
        if kept is not None and significant_digits(str(value)) > kept:
            self.fail("kept", kept=kept, vendor=connection.vendor)
        return value


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictTextField(serializers.CharField):
    default_error_messages = {
        "invalid": "Must be a string.",
        "nul": "Must not contain the NUL character.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            self.fail("nul")
        return data


class StrictDateField(serializers.DateField):
    default_error_messages = {"invalid": "Must be a date as an ISO 8601 string (YYYY-MM-DD)."}

    def to_internal_value(self, data: Any) -> datetime.date:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return parse_date(data)
        except ValueError:
            self.fail("invalid")


class StrictDateTimeField(serializers.DateTimeField):
    default_error_messages = {
        "invalid": "Must be a date-time as an ISO 8601 string with a time zone.",
        "naive": "Must carry a time zone (e.g. 2024-05-01T12:00:00Z).",
        "range": "Must lie between years 1 and 9999 once converted to UTC.",
    }

    def to_internal_value(self, data: Any) -> datetime.datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            value = self.enforce_timezone(parse_datetime(data))
        except ValueError:
            self.fail("invalid")
        try:
            return value.astimezone(datetime.UTC)
        except OverflowError:
            self.fail("range")

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return value


class StrictUUIDField(serializers.UUIDField):
    default_error_messages = {"invalid": "Must be a UUID string."}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class BoundedJSONField(serializers.JSONField):
    default_error_messages = {
        "depth": "Nested deeper than {max_depth} levels.",
        "nul": "Strings must not contain the NUL character.",
        "number": (
            "Holds a number a json value would not keep exactly (an integer beyond 64 bits,"
            " or more digits or range than a double has); send it as a string."
        ),
    }

    def to_internal_value(self, data: Any) -> Any:
        self._check(data, 1)
        return data

    def _check(self, value: Any, depth: int) -> None:
        if depth > settings.MAX_JSON_DEPTH:
            self.fail("depth", max_depth=settings.MAX_JSON_DEPTH)
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    self.fail("nul")
                self._check(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                self._check(item, depth + 1)
        elif isinstance(value, str) and "\x00" in value:
            self.fail("nul")
        elif _is_number(value) and not json_number_kept(value):
            self.fail("number")

    def to_representation(self, value: Any) -> Any:
        return value
