"""The time types: date (YYYY-MM-DD) and datetime (RFC 3339 with an offset, stored in UTC)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import django_filters as df
import orjson
from django.db import models
from rest_framework import serializers
from rest_framework.settings import ISO_8601, api_settings

from factory.schema import fields as strict
from factory.schema.types.base import (
    COMPARISONS,
    ORDERED_INDEXES,
    REFER,
    Check,
    FieldType,
    register,
)
from factory.schema.types.lookups import ISO_DATE

if TYPE_CHECKING:
    from factory.schema.specs import FieldSpec


def _refer(raw: Any) -> Any:
    return REFER


def _iso_only(field: serializers.Field, default_formats: list[str]) -> bool:
    formats = getattr(field, "input_formats", default_formats)
    return [str(f).lower() for f in formats] == [ISO_8601]


class DateInFilter(df.BaseInFilter, df.DateFilter):
    pass


def _isoformat(value: datetime.date) -> str:
    return value.isoformat()


@register
class DateType(FieldType):
    name = "date"
    options = frozenset({"choices"})
    lookups = COMPARISONS
    index_types = ORDERED_INDEXES
    openapi: ClassVar[dict[str, Any]] = {"type": "string", "format": "date"}
    sample = "2024-05-01"
    copy_as = "date"
    represent = staticmethod(_isoformat)
    render = None  # orjson writes a date as isoformat() does

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        return models.DateField()

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        return strict.StrictDateField(**kwargs)

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        if not _iso_only(field, api_settings.DATE_INPUT_FORMATS):
            return _refer

        def date(raw: Any) -> Any:
            if type(raw) is not str:
                return REFER
            try:  # the field's own parsing
                return strict.parse_date(raw)
            except ValueError:
                return REFER

        return date

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        return df.DateFilter(input_formats=ISO_DATE, **kwargs)

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        return DateInFilter(input_formats=ISO_DATE, **kwargs)


class DateTimeInFilter(df.BaseInFilter, df.IsoDateTimeFilter):
    pass


# orjson spells datetimes exactly as isoformat() does (with Z for UTC; test_serializers pins
# it), in a third of the time: a bulk answer holds tens of thousands.
def _utc(value: datetime.datetime) -> str:
    if value.tzinfo is not datetime.UTC:  # values written and read back are UTC already
        value = value.astimezone(datetime.UTC)
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)[1:-1].decode()


def _in_utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo is datetime.UTC else value.astimezone(datetime.UTC)


@register
class DateTimeType(FieldType):
    name = "datetime"
    lookups = COMPARISONS
    index_types = ORDERED_INDEXES
    openapi: ClassVar[dict[str, Any]] = {"type": "string", "format": "date-time"}
    sample = "2024-05-01T12:00:00Z"
    copy_as = "timestamptz"
    represent = staticmethod(_utc)
    render = staticmethod(_in_utc)  # orjson then writes it as _utc does

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        return models.DateTimeField()

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        return strict.StrictDateTimeField(**kwargs)

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        if not _iso_only(field, api_settings.DATETIME_INPUT_FORMATS):
            return _refer

        def datetime_(raw: Any) -> Any:
            if type(raw) is not str:
                return REFER
            try:  # the field's own parsing
                parsed = strict.parse_datetime(raw)
            except ValueError:
                return REFER
            if parsed.utcoffset() is None:
                return REFER
            try:
                return parsed.astimezone(datetime.UTC)
            except OverflowError:
                return REFER

        return datetime_

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        return df.IsoDateTimeFilter(**kwargs)

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        return DateTimeInFilter(**kwargs)
