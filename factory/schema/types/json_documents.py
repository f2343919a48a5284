"""The json type: any JSON document, bounded in depth, numbers kept exactly."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import django_filters as df
from django.conf import settings
from django.db import models
from rest_framework import serializers

from core.json import loads
from factory.schema import fields as strict
from factory.schema.types.base import REFER, Check, FieldType, register
from factory.schema.types.lookups import JSONContainsFilter, StrictTextFilter

if TYPE_CHECKING:
    from factory.schema.specs import FieldSpec


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
        return strict.JSON_INT_MIN <= value <= strict.JSON_INT_MAX
    return kind is bool or value is None


@register
class JSONType(FieldType):
    name = "json"
    lookups = ("has_key", "contains")
    index_types = frozenset({"gin"})
    orderable = False  # no order between documents
    openapi: ClassVar[dict[str, Any]] = {}
    sample: ClassVar[Any] = {"note": "any JSON document"}
    copy_as = "jsonb"
    csv_form = "json"

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        return models.JSONField()

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        return strict.BoundedJSONField(**kwargs)

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        def json(raw: Any) -> Any:
            return raw if _plain_json(raw, settings.MAX_JSON_DEPTH) else REFER

        return json

    @classmethod
    def filter(cls, field_name: str, lookup: str) -> df.Filter:
        if lookup == "has_key":
            return StrictTextFilter(field_name=field_name, lookup_expr="has_key")
        return JSONContainsFilter(field_name=field_name, lookup_expr="contains")

    @classmethod
    def from_csv(cls, cell: str) -> Any:
        try:
            return loads(cell)
        except ValueError as exc:
            raise ValueError(f"{cell!r} is not JSON ({exc})") from None
