"""Strict serializer fields for record values.

DRF's stock fields are lenient by design ("3" is an integer, "true" a boolean); a typed
storage must not be: a value of the wrong JSON type is refused, never coerced.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
        try:
            value = float(data)
        except OverflowError:
            self.fail("invalid")
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class StrictDecimalField(serializers.DecimalField):
    default_error_messages = {"invalid": "Must be a decimal number, as a string or a number."}

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        # DRF's DecimalField turns "" into null; a typed storage refuses it instead.
        return serializers.Field.validate_empty_values(self, data)

    def to_internal_value(self, data: Any) -> Any:
        if not (isinstance(data, str) or _is_number(data)):
            self.fail("invalid")
        if isinstance(data, float) and not math.isfinite(data):
            self.fail("invalid")
        return super().to_internal_value(data)


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
        return super().to_internal_value(data)


class StrictDateTimeField(serializers.DateTimeField):
    default_error_messages = {
        "invalid": "Must be a date-time as an ISO 8601 string with a time zone.",
        "naive": "Must carry a time zone (e.g. 2024-05-01T12:00:00Z).",
        "range": "Must lie between years 1 and 9999 once converted to UTC.",
    }

    def to_internal_value(self, data: Any) -> datetime.datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
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
        elif isinstance(value, float) and not math.isfinite(value):
            self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value
