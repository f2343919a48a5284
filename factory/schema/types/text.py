"""The text type: any string without NUL, up to `max_length` characters when given."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

import django_filters as df
from django.db import models
from rest_framework import serializers

from factory.schema import fields as strict
from factory.schema.types.base import REFER, Check, FieldType, register
from factory.schema.types.lookups import StrictTextFilter

if TYPE_CHECKING:
    from factory.schema.specs import FieldSpec

# DRF's CharField refuses NUL (ProhibitNullCharactersValidator) and lone surrogates.
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")


class TextInFilter(df.BaseInFilter, df.CharFilter):
    pass


def text_check(max_length: int | None, *, allow_blank: bool = True) -> Check:
    """The fast accept check of a text value (a text key's too, which is never blank)."""

    def text(raw: Any) -> Any:
        if type(raw) is not str:
            return REFER
        if raw == "":  # DRF's CharField answers "" before any validator runs
            return raw if allow_blank else REFER
        if max_length is not None and len(raw) > max_length:
            return REFER
        return REFER if _UNSAFE_TEXT.search(raw) else raw

    return text


@register
class TextType(FieldType):
    name = "text"
    options = frozenset({"max_length", "choices"})
    lookups = ("exact", "in", "contains", "icontains", "startswith")
    openapi: ClassVar[dict[str, Any]] = {"type": "string"}
    sample = "example"
    copy_as = "text"
    csv_form = "text"

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        if spec.max_length:
            return models.CharField(max_length=spec.max_length)
        return models.TextField()

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        return strict.StrictTextField(max_length=spec.max_length, **kwargs)

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Check:
        return text_check(spec.max_length)

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        return StrictTextFilter(**kwargs)

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        return TextInFilter(**kwargs)

    @classmethod
    def example(cls, spec: FieldSpec) -> Any:
        return cls.sample[: spec.max_length] if spec.max_length else cls.sample

    @classmethod
    def schema(cls, spec: FieldSpec) -> dict[str, Any]:
        schema = dict(cls.openapi)
        if spec.max_length:
            schema["maxLength"] = spec.max_length
        return schema

    @classmethod
    def copy_type(cls, spec: FieldSpec) -> str:
        return "varchar" if spec.max_length else "text"  # a CharField's column
