"""The uuid type: a UUID string in any spelling uuid.UUID reads, shown in its canonical form."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, ClassVar

import django_filters as df
import orjson
from django.db import models
from rest_framework import serializers

from factory.schema import fields as strict
from factory.schema.types.base import REFER, Check, FieldType, register

if TYPE_CHECKING:
    from factory.schema.specs import FieldSpec


class UUIDInFilter(df.BaseInFilter, df.UUIDFilter):
    pass


def _uuid_string(value: Any) -> str:
    # orjson spells a UUID as str() does, in a third of the time.
    return orjson.dumps(value)[1:-1].decode() if type(value) is uuid.UUID else str(value)


def _uuid(raw: Any) -> Any:
    if type(raw) is not str:
        return REFER
    try:  # DRF: uuid.UUID(hex=data)
        return uuid.UUID(raw)
    except ValueError:
        return REFER


@register
class UUIDType(FieldType):
    name = "uuid"
    options = frozenset({"choices"})
    openapi: ClassVar[dict[str, Any]] = {"type": "string", "format": "uuid"}
    sample = "6f1c2a3e-9b8d-4c7a-a1e2-3f4b5c6d7e8f"
    copy_as = "uuid"
    represent = staticmethod(_uuid_string)
    render = None  # orjson writes a UUID as str() does

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        return models.UUIDField()

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        return strict.StrictUUIDField(**kwargs)

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        return _uuid

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        return df.UUIDFilter(**kwargs)

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        return UUIDInFilter(**kwargs)
