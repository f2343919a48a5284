"""Filter sets built from a storage definition (django-filter), one class per version.

Every parameter the records list accepts is named here or in RESERVED_PARAMETERS; anything
else is refused with 400, so a mistyped filter never silently returns everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import django_filters as df
from django import forms
from django.db import models

from core.errors import ValidationFailed
from factory.schema import names
from factory.schema.specs import SYSTEM_FIELDS, StorageSpec
from factory.schema.types import FIELD_TYPES, FieldType
from factory.schema.types.lookups import BOOLEAN_CHOICES, StrictTextFilter, true_or_false

RESERVED_PARAMETERS = names.LIST_PARAMETERS
# The system fields a list filters by ("what changed since"), and how.
FILTERED_SYSTEM_FIELDS = ("_created_at", "_updated_at")
RANGE_LOOKUPS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class FilterParameter:
    """One query parameter the records list takes (e.g. `age__gte`)."""

    name: str
    field: str
    type: type[FieldType]
    lookup: str


def filter_catalogue(definition: StorageSpec) -> list[FilterParameter]:
    """Every filter parameter of a storage, in the contract's order: its key's and fields'
    types' lookups (`isnull` too where a field is nullable), then the system fields'
    ranges. What build_filters compiles and storage.contract documents."""
    key = definition.primary_key
    fields = [(key.name, key.type.value_type, key.type.value_type.lookups)]
    fields += [
        (spec.name, spec.type, (*spec.type.lookups, *(("isnull",) if spec.nullable else ())))
        for spec in definition.fields
    ]
    fields += [
        (name, FIELD_TYPES[SYSTEM_FIELDS[name]], RANGE_LOOKUPS) for name in FILTERED_SYSTEM_FIELDS
    ]
    return [
        FilterParameter(_parameter(name, lookup), name, field_type, lookup)
        for name, field_type, lookups in fields
        for lookup in lookups
    ]


def _filter(parameter: FilterParameter) -> df.Filter:
    if parameter.lookup == "isnull":
        return df.TypedChoiceFilter(
            field_name=parameter.field,
            lookup_expr="isnull",
            choices=BOOLEAN_CHOICES,
            coerce=true_or_false,
        )
    return parameter.type.filter(parameter.field, parameter.lookup)


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

    def apply(
        self,
        queryset: models.QuerySet,
        params: Any,
        reserved: frozenset[str] = RESERVED_PARAMETERS,
    ) -> models.QuerySet:
        """Raises ValidationFailed naming each unknown, repeated or invalid parameter
        (`reserved`: the other parameters of the list, or of the change feed)."""
        self.check_parameters(params, reserved)
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

    def check_parameters(self, params: Any, reserved: frozenset[str] = RESERVED_PARAMETERS) -> None:
        """Refuse any query parameter that is neither a filter nor a `reserved` one (the
        list's, or the change feed's)."""
        unknown = [p for p in params if p not in self.filters and p not in reserved]
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
    catalogue = filter_catalogue(StorageSpec.from_normal(definition))
    return RecordFilters(model, {parameter.name: _filter(parameter) for parameter in catalogue})
