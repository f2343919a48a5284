"""The django-filter pieces the field types build their filters from.

django-filter's stock filters are close but lenient in ways a typed storage must not be:
these keep `name=` as the empty string, hold JSON query values to a json field's rules and
refuse what the database cannot answer.
"""

from __future__ import annotations

from typing import Any

import django_filters as df
from django import forms
from django.db import connection, models
from rest_framework import serializers

from core.errors import ValidationFailed
from core.json import loads
from factory.schema.fields import BoundedJSONField

BOOLEAN_CHOICES = (("true", "true"), ("false", "false"))
# ISO 8601 only, as records are written and shown: Django's default input formats would
# also read 01/02/2020, ambiguously (January 2nd, US style).
ISO_DATE = ["%Y-%m-%d"]


def true_or_false(value: str) -> bool:
    return value == "true"


class StrictTextFilter(df.CharFilter):
    """An exact text match that treats `name=` as the empty string, not as no filter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(*args, **kwargs)

    def filter(self, qs: models.QuerySet, value: Any) -> models.QuerySet:
        if value is None:
            return qs
        return qs.filter(**{f"{self.field_name}__{self.lookup_expr}": value})


class JSONQueryField(forms.JSONField):
    """A JSON value from the query string, held to the rules of a json field's values (depth,
    no NUL) before it reaches a query; Django's own would recurse without bound and pass
    NaN or NUL on to the database."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        try:
            return BoundedJSONField().to_internal_value(loads(value))
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        except serializers.ValidationError as exc:
            raise forms.ValidationError([str(message) for message in exc.detail]) from None


class JSONContainsFilter(df.Filter):
    """JSON containment (`@>`). Applied for every parsed value, `{}` included (django-filter
    would skip it as "empty"); refused where the database has no containment operator."""

    field_class = JSONQueryField

    def filter(self, qs: models.QuerySet, value: Any) -> models.QuerySet:
        if value is None:
            return qs
        if not connection.features.supports_json_field_contains:
            raise ValidationFailed(
                {f"{self.field_name}__contains": [f"Needs PostgreSQL; not on {connection.vendor}."]}
            )
        return qs.filter(**{f"{self.field_name}__contains": value})


def with_form_field(instance: df.Filter, field_class: type[forms.Field]) -> df.Filter:
    """`instance` parsing its value with `field_class` (e.g. an integer, not a decimal)."""
    instance.field_class = field_class
    return instance
