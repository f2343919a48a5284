"""Filter sets built from a storage definition (django-filter), one class per version.

Every parameter the records list accepts is named here or in RESERVED_PARAMETERS; anything
else is refused with 400, so a mistyped filter never silently returns everything.
"""

from __future__ import annotations

from typing import Any

import django_filters as df
from django import forms
from django.db import connection, models
from rest_framework import serializers

from core.errors import ValidationFailed
from core.json import loads
from factory.schema.definition import SYSTEM_FIELDS
from factory.schema.fields import INT64_MAX, INT64_MIN, BoundedJSONField
from factory.schema.types import FIELD_TYPES, KEY_VALUE_TYPES

RESERVED_PARAMETERS = frozenset({"limit", "cursor", "ordering", "fields", "count", "format"})
# ISO 8601 only, as records are written and shown: Django's default input formats would
# also read 01/02/2020, ambiguously (January 2nd, US style).
_ISO_DATE = ["%Y-%m-%d"]
_BOOLEAN_CHOICES = (("true", "true"), ("false", "false"))


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


class IntegerInFilter(df.BaseInFilter, df.NumberFilter):
    field_class = forms.IntegerField


class FloatInFilter(df.BaseInFilter, df.NumberFilter):
    field_class = forms.FloatField


class DecimalInFilter(df.BaseInFilter, df.NumberFilter):
    pass


class TextInFilter(df.BaseInFilter, df.CharFilter):
    pass


class DateInFilter(df.BaseInFilter, df.DateFilter):
    pass


class DateTimeInFilter(df.BaseInFilter, df.IsoDateTimeFilter):
    pass


class UUIDInFilter(df.BaseInFilter, df.UUIDFilter):
    pass


class BooleanInFilter(df.BaseInFilter, df.TypedChoiceFilter):
    pass


def _integer(**kw: Any) -> df.Filter:
    # An IntegerField, not NumberFilter's DecimalField: "3.5" must be refused, not cut to 3.
    instance = df.NumberFilter(min_value=INT64_MIN, max_value=INT64_MAX, **kw)
    instance.field_class = forms.IntegerField
    return instance


def _scalar(cls: type[df.Filter], field_class: type[forms.Field] | None = None):
    def make(**kw: Any) -> df.Filter:
        instance = cls(**kw)
        if field_class is not None:
            instance.field_class = field_class
        return instance

    return make


_SCALAR = {
    "integer": _integer,
    "float": _scalar(df.NumberFilter, forms.FloatField),
    "decimal": _scalar(df.NumberFilter),
    "boolean": lambda **kw: df.TypedChoiceFilter(
        choices=_BOOLEAN_CHOICES, coerce=lambda v: v == "true", **kw
    ),
    "text": _scalar(StrictTextFilter),
    "date": lambda **kw: df.DateFilter(input_formats=_ISO_DATE, **kw),
    "datetime": _scalar(df.IsoDateTimeFilter),
    "uuid": _scalar(df.UUIDFilter),
}
_IN = {
    # Bounded like `=`: a value beyond bigint overflows the query (SQLite refuses it).
    "integer": lambda **kw: IntegerInFilter(min_value=INT64_MIN, max_value=INT64_MAX, **kw),
    "float": FloatInFilter,
    "decimal": DecimalInFilter,
    "text": TextInFilter,
    "date": lambda **kw: DateInFilter(input_formats=_ISO_DATE, **kw),
    "datetime": DateTimeInFilter,
    "uuid": UUIDInFilter,
    "boolean": lambda **kw: BooleanInFilter(
        choices=_BOOLEAN_CHOICES, coerce=lambda v: v == "true", **kw
    ),
}


def _filter(type_name: str, field: str, lookup: str) -> df.Filter:
    if lookup == "isnull":
        return df.TypedChoiceFilter(
            field_name=field,
            lookup_expr="isnull",
            choices=_BOOLEAN_CHOICES,
            coerce=lambda v: v == "true",
        )
    if type_name == "json":
        if lookup == "has_key":
            return StrictTextFilter(field_name=field, lookup_expr="has_key")
        return JSONContainsFilter(field_name=field, lookup_expr="contains")
    if lookup == "in":
        return _IN[type_name](field_name=field, lookup_expr="in")
    if lookup == "exact" and type_name == "text":
        return StrictTextFilter(field_name=field, lookup_expr="exact")
    return _SCALAR[type_name](field_name=field, lookup_expr=lookup)


def _parameter(field: str, lookup: str) -> str:
    return field if lookup == "exact" else f"{field}__{lookup}"


class RecordFilters:
    """The filters of one storage version by parameter name, applied without a FilterSet.

    The Filter objects and their form fields are django-filter's, built once per version;
    a request only cleans the values it names and applies those filters. (A FilterSet per
    request deep-copies and labels every filter of the storage: most of a list's cost.)
    """

    def __init__(self, model: type[models.Model], filters: dict[str, df.Filter]) -> None:
        for parameter in filters.values():
            parameter.model = model
            parameter.field  # noqa: B018 - built now, then only read, by any thread
        self.filters = filters

    def apply(self, queryset: models.QuerySet, params: Any) -> models.QuerySet:
        """Raises ValidationFailed naming each unknown, repeated or invalid parameter."""
        self.check_parameters(params)
        values, errors = {}, {}
        for name in params:
            parameter = self.filters.get(name)
            if parameter is None:
                continue  # reserved: limit, cursor, ordering...
            try:
                values[name] = self._clean(name, parameter, params)
            except forms.ValidationError as exc:
                errors[name] = list(exc.messages)
        if errors:
            raise ValidationFailed(errors)
        for name, value in values.items():
            queryset = self.filters[name].filter(queryset, value)
        return queryset

    @staticmethod
    def _clean(name: str, parameter: df.Filter, params: Any) -> Any:
        field = parameter.field
        value = field.clean(field.widget.value_from_datadict(params, {}, name))
        # Empty means nothing to a number or a date: refuse it rather than ignore the
        # filter. For text, `name=` is a real value: the empty string.
        if value in (None, "", [], ()) and not isinstance(parameter, StrictTextFilter):
            raise forms.ValidationError("A value is required.")
        return value

    def values_key(self, params: Any) -> tuple[tuple[str, str], ...]:
        """The filter parameters and their raw values, in their order (which is the order
        apply() filters in); refuses what check_parameters refuses."""
        self.check_parameters(params)
        return tuple((name, params.get(name)) for name in params if name in self.filters)

    def check_parameters(self, params: Any) -> None:
        """Refuse any query parameter that is neither a filter nor a reserved one."""
        unknown = [p for p in params if p not in self.filters and p not in RESERVED_PARAMETERS]
        if unknown:
            raise ValidationFailed(
                {name: ["Unknown filter or parameter for this storage."] for name in unknown},
                "Unknown query parameters: " + ", ".join(sorted(unknown)),
            )
        repeated = [p for p in params if len(params.getlist(p)) > 1]
        if repeated:
            raise ValidationFailed(
                {
                    name: ["Give this parameter once (use __in for several values)."]
                    for name in repeated
                }
            )


def build_filters(model: type[models.Model], definition: dict[str, Any]) -> RecordFilters:
    filters: dict[str, df.Filter] = {}
    pk = definition["primary_key"]
    pk_type = KEY_VALUE_TYPES[pk["type"]]
    for lookup in FIELD_TYPES[pk_type].lookups:
        filters[_parameter(pk["name"], lookup)] = _filter(pk_type, pk["name"], lookup)
    for spec in definition["fields"]:
        lookups = list(FIELD_TYPES[spec["type"]].lookups)
        if spec["nullable"]:
            lookups.append("isnull")
        for lookup in lookups:
            filters[_parameter(spec["name"], lookup)] = _filter(spec["type"], spec["name"], lookup)
    for name in ("_created_at", "_updated_at"):
        for lookup in ("gt", "gte", "lt", "lte"):
            filters[_parameter(name, lookup)] = _filter(SYSTEM_FIELDS[name], name, lookup)
    return RecordFilters(model, filters)
