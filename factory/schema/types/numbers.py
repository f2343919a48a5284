"""The number types: integer (64 bits), float (a double), decimal (exact, as a string)."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import django_filters as df
from django import forms
from django.db import models
from rest_framework import serializers

from factory.schema import fields as strict
from factory.schema.types.base import (
    COMPARISONS,
    ORDERED_INDEXES,
    REFER,
    Check,
    FieldType,
    register,
)
from factory.schema.types.lookups import with_form_field

if TYPE_CHECKING:
    from factory.schema.specs import FieldSpec

# An integer as a CSV cell: the spellings storage.export writes, and a leading +.
_CSV_INTEGER = re.compile(r"[+-]?[0-9]+")
# Integers a decimal check reads through str(); larger ones go to DRF.
_PLAIN_INT = 10**18


class _Number(FieldType):
    options: ClassVar[frozenset[str]] = frozenset({"min", "max", "choices"})
    lookups = COMPARISONS
    index_types = ORDERED_INDEXES
    # The bounds a value has whatever the definition says (a client must not send more).
    limits: ClassVar[tuple[Any, Any]] = (None, None)

    @classmethod
    def example(cls, spec: FieldSpec) -> Any:
        """The sample, moved inside the field's bounds."""
        value = cls.sample
        if spec.min is not None and value < spec.min:
            value = spec.min
        if spec.max is not None and value > spec.max:
            value = spec.max
        return value

    @classmethod
    def schema(cls, spec: FieldSpec) -> dict[str, Any]:
        schema = dict(cls.openapi)
        low = spec.min if spec.min is not None else cls.limits[0]
        high = spec.max if spec.max is not None else cls.limits[1]
        if low is not None:
            schema["minimum"] = low
        if high is not None:
            schema["maximum"] = high
        return schema


class IntegerInFilter(df.BaseInFilter, df.NumberFilter):
    field_class = forms.IntegerField


@register
class IntegerType(_Number):
    name = "integer"
    openapi: ClassVar[dict[str, Any]] = {"type": "integer", "format": "int64"}
    sample = 1
    copy_as = "int8"
    limits = (strict.INT64_MIN, strict.INT64_MAX)

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        return models.BigIntegerField()

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        return strict.StrictIntegerField(min_value=spec.min, max_value=spec.max, **kwargs)

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        low = strict.INT64_MIN if spec.min is None else max(strict.INT64_MIN, spec.min)
        high = strict.INT64_MAX if spec.max is None else min(strict.INT64_MAX, spec.max)

        def integer(raw: Any) -> Any:
            return raw if type(raw) is int and low <= raw <= high else REFER

        return integer

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        # An IntegerField, not NumberFilter's DecimalField: "3.5" must be refused, not cut to 3.
        instance = df.NumberFilter(min_value=strict.INT64_MIN, max_value=strict.INT64_MAX, **kwargs)
        return with_form_field(instance, forms.IntegerField)

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        # Bounded like `=`: a value beyond bigint overflows the query (SQLite refuses it).
        return IntegerInFilter(min_value=strict.INT64_MIN, max_value=strict.INT64_MAX, **kwargs)

    @classmethod
    def from_csv(cls, cell: str) -> Any:
        if not _CSV_INTEGER.fullmatch(cell):
            raise ValueError(f"{cell!r} is not an integer")
        return int(cell)


class FloatInFilter(df.BaseInFilter, df.NumberFilter):
    field_class = forms.FloatField


@register
class FloatType(_Number):
    name = "float"
    openapi: ClassVar[dict[str, Any]] = {"type": "number", "format": "double"}
    sample = 1.5
    copy_as = "float8"

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        return models.FloatField()

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        return strict.StrictFloatField(min_value=spec.min, max_value=spec.max, **kwargs)

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        low, high = spec.min, spec.max

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

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        return with_form_field(df.NumberFilter(**kwargs), forms.FloatField)

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        return FloatInFilter(**kwargs)

    @classmethod
    def from_csv(cls, cell: str) -> Any:
        try:
            return float(cell)
        except ValueError:
            raise ValueError(f"{cell!r} is not a number") from None


class DecimalInFilter(df.BaseInFilter, df.NumberFilter):
    pass


def _decimal_string(value: Any) -> str:
    return str(value) if isinstance(value, Decimal) else str(Decimal(str(value)))


@register
class DecimalType(_Number):
    name = "decimal"
    options = frozenset({"min", "max", "choices", "max_digits", "decimal_places"})
    openapi: ClassVar[dict[str, Any]] = {
        "type": "string",
        "format": "decimal",
        "pattern": r"^-?\d+(\.\d+)?$",
    }
    copy_as = "numeric"
    represent = staticmethod(_decimal_string)
    sample = Decimal(1)

    @classmethod
    def example(cls, spec: FieldSpec) -> Any:
        """The sample inside the bounds (kept as strings in the normal form), spelt with the
        field's decimal places (a string, as the API returns decimals)."""
        bounds = [None if bound is None else Decimal(str(bound)) for bound in (spec.min, spec.max)]
        places = spec.decimal_places or 0
        # No digit before the point (max_digits == decimal_places): 1 would not fit.
        value = cls.sample if (spec.max_digits or 1) > places else Decimal(0)
        if bounds[0] is not None and value < bounds[0]:
            value = bounds[0]
        if bounds[1] is not None and value > bounds[1]:
            value = bounds[1]
        return str(value.quantize(Decimal(1).scaleb(-places)))

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        return models.DecimalField(max_digits=spec.max_digits, decimal_places=spec.decimal_places)

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        # Bounds are stored as strings (exact); validators compare Decimals.
        return strict.StrictDecimalField(
            max_digits=spec.max_digits,
            decimal_places=spec.decimal_places,
            coerce_to_string=True,
            min_value=None if spec.min is None else Decimal(str(spec.min)),
            max_value=None if spec.max is None else Decimal(str(spec.max)),
            **kwargs,
        )

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        max_digits, places = field.max_digits, field.decimal_places
        kept = strict.decimal_digits_kept()
        low, high = field.min_value, field.max_value

        def decimal(raw: Any) -> Any:
            if type(raw) is int and -_PLAIN_INT < raw < _PLAIN_INT:
                raw = str(raw)  # DRF reads a number through its str() too
            if type(raw) is not str or len(raw) > field.MAX_STRING_LENGTH:
                return REFER
            match = strict.PLAIN_DECIMAL.fullmatch(raw)
            if match is None:
                return REFER
            whole, fraction = match.groups(default="")
            # DecimalField.validate_precision's counts: Decimal drops leading zeros only.
            decimals = len(fraction)
            total = max(len((whole + fraction).lstrip("0")) or 1, decimals)
            if total > max_digits or decimals > places or total - decimals > max_digits - places:
                return REFER
            if kept is not None and strict.significant_digits(raw) > kept:
                return REFER
            # What DecimalField.quantize makes of it: the same digits, zeros appended.
            padding = places - decimals
            value = Decimal(raw + ("." if padding and not decimals else "") + "0" * padding)
            if (low is not None and value < low) or (high is not None and value > high):
                return REFER
            return value

        return decimal

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        return df.NumberFilter(**kwargs)

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        return DecimalInFilter(**kwargs)

    @classmethod
    def schema(cls, spec: FieldSpec) -> dict[str, Any]:
        return dict(cls.openapi)  # bounds are in the description: JSON Schema's are numbers

    @classmethod
    def description(cls, spec: FieldSpec) -> str | None:
        text = (
            f"Decimal with at most {spec.max_digits} digits, {spec.decimal_places} after "
            "the point; sent (as a string or a number) and returned as a string."
        )
        if spec.min is not None:
            text += f" At least {spec.min}."
        if spec.max is not None:
            text += f" At most {spec.max}."
        return text
