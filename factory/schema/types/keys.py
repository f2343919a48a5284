"""The primary-key types: serial (made by the server), uuid (made when left out), and the
natural keys a client must send, integer and text."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.db import models
from rest_framework import serializers

from factory.schema.fields import INT64_MAX, INT64_MIN, parse_integer
from factory.schema.types.base import REFER, Check, KeyType, register
from factory.schema.types.numbers import IntegerType
from factory.schema.types.text import TextType, text_check
from factory.schema.types.uuids import UUIDType

if TYPE_CHECKING:
    from factory.schema.specs import FieldSpec

MAX_TEXT_KEY = 255
# A client resolves `.` and `..` segments before it sends a request (RFC 3986, 5.2.4; the
# WHATWG URL standard also reads `%2e` as a dot), and a `/`, even encoded as `%2F`, is
# decoded, refused or merged by servers and proxies on the way: a text key that is one of
# those, or holds a `/`, has no URL that reaches its record for sure, and its `Location`
# would point elsewhere (`../../auth/tokens`). Such keys are refused on create.
_DOT_SEGMENTS = frozenset({".", ".."})


# Path segments the records API routes itself below a storage (the change feed).
ROUTED_SEGMENTS = frozenset({"changes"})


def addressable(key: str) -> bool:
    """Whether a text key can be the one path segment of its record's URL."""
    return key not in _DOT_SEGMENTS and key not in ROUTED_SEGMENTS and "/" not in key


def unaddressable(key: str) -> str:
    """The validation message for a key that `addressable` refuses."""
    return (
        f"{key!r} cannot be a key: '.', '..', 'changes' (the change feed's URL) and keys "
        "holding '/' have no URL of their own."
    )


def _integer_from_url(raw: str) -> Any:
    # One spelling per key: int() would also read " 7", "07", "-0", "7_0" and other
    # scripts' digits, giving one record many URLs.
    try:
        value = parse_integer(raw) if len(raw) <= 20 else None
    except ValueError:
        return None
    return value if value is not None and INT64_MIN <= value <= INT64_MAX else None


@register
class SerialKey(KeyType):
    name = "serial"
    value_type = IntegerType
    generated = True
    copy_as = "int8"

    @classmethod
    def model_field(cls) -> models.Field:
        return models.BigAutoField(primary_key=True)

    @classmethod
    def from_url(cls, raw: str) -> Any:
        return _integer_from_url(raw)


@register
class UUIDKey(KeyType):
    name = "uuid"
    value_type = UUIDType
    copy_as = "uuid"

    @classmethod
    def model_field(cls) -> models.Field:
        return models.UUIDField(primary_key=True, default=uuid.uuid4)

    @classmethod
    def from_url(cls, raw: str) -> Any:
        try:
            return uuid.UUID(raw)
        except ValueError:
            return None


@register
class IntegerKey(KeyType):
    name = "integer"
    value_type = IntegerType
    natural = True
    copy_as = "int8"

    @classmethod
    def model_field(cls) -> models.Field:
        return models.BigIntegerField(primary_key=True)

    @classmethod
    def from_url(cls, raw: str) -> Any:
        return _integer_from_url(raw)


@register
class TextKey(KeyType):
    name = "text"
    value_type = TextType
    natural = True
    copy_as = "text"

    @classmethod
    def model_field(cls) -> models.Field:
        return models.TextField(primary_key=True)

    @classmethod
    def value_spec(cls, name: str) -> FieldSpec:
        from factory.schema.specs import FieldSpec

        return FieldSpec(name=name, type=TextType, max_length=MAX_TEXT_KEY)

    @classmethod
    def serializer_field(cls, name: str, **kwargs: Any) -> serializers.Field:
        # allow_blank would let "" past min_length: an empty key has no URL.
        kwargs.setdefault("allow_blank", False)
        return super().serializer_field(name, **kwargs)

    @classmethod
    def accept_check(cls, field: serializers.Field) -> Check:
        text = text_check(field.max_length, allow_blank=False)

        def text_key(raw: Any) -> Any:  # a key without a URL of its own: DRF words it
            value = text(raw)
            return value if value is REFER or addressable(value) else REFER

        return text_key

    @classmethod
    def problem(cls, value: Any) -> str | None:
        return None if addressable(value) else unaddressable(value)

    @classmethod
    def from_url(cls, raw: str) -> Any:
        return raw

    @classmethod
    def schema(cls) -> dict[str, Any]:
        return {**TextType.openapi, "minLength": 1, "maxLength": MAX_TEXT_KEY}
