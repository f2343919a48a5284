"""The boolean type: JSON true or false, nothing that looks like one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import django_filters as df
from django.db import models
from rest_framework import serializers

from factory.schema import fields as strict
from factory.schema.types.base import REFER, Check, FieldType, register
from factory.schema.types.lookups import BOOLEAN_CHOICES, true_or_false

if TYPE_CHECKING:
    from factory.schema.specs import FieldSpec


class BooleanInFilter(df.BaseInFilter, df.TypedChoiceFilter):
    pass


def _boolean(raw: Any) -> Any:
    return raw if raw is True or raw is False else REFER


@register
class BooleanType(FieldType):
    name = "boolean"
    openapi: ClassVar[dict[str, Any]] = {"type": "boolean"}
    sample = False
    copy_as = "bool"

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        return models.BooleanField()

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        return strict.StrictBooleanField(**kwargs)

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        return _boolean

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        return df.TypedChoiceFilter(choices=BOOLEAN_CHOICES, coerce=true_or_false, **kwargs)

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        return BooleanInFilter(choices=BOOLEAN_CHOICES, coerce=true_or_false, **kwargs)

    @classmethod
    def from_csv(cls, cell: str) -> Any:
        if cell.lower() not in ("true", "false"):
            raise ValueError(f"{cell!r} is not true or false")
        return cell.lower() == "true"
