"""The audit list's filters: storage, actor, action and time; strict, like the records list
(an unknown, repeated or invalid parameter answers 400, never the whole trail)."""

from __future__ import annotations

import re
from typing import Any

import django_filters as df
from django import forms
from django.db.models import Q, QuerySet

from audit.models import Action, ActorKind, AuditEntry
from core.errors import ValidationFailed

# Parameters of the pagination (audit.pagination), not filters.
PAGING_PARAMETERS = frozenset({"limit", "cursor"})
# `token:12`, `admin:3` or `system`.
_ACTOR_RE = re.compile(r"(?:(token|admin):([1-9][0-9]{0,18})|(system))")


class ActorField(forms.CharField):
    def to_python(self, value: Any) -> tuple[str, int | None] | None:
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        match = _ACTOR_RE.fullmatch(value)
        if match is None:
            raise forms.ValidationError("Must be token:<id>, admin:<id> or system.")
        kind, number, system = match.groups()
        return (ActorKind.SYSTEM, None) if system else (kind, int(number))


class ActorFilter(df.Filter):
    field_class = ActorField

    def filter(self, queryset: QuerySet, value: tuple[str, int | None] | None) -> QuerySet:
        if value is None:
            return queryset
        kind, number = value
        return queryset.filter(Q(actor_kind=kind) & Q(actor_id=number))


class AuditFilterSet(df.FilterSet):
    storage = df.CharFilter(field_name="storage", max_length=50)
    actor = ActorFilter()
    action = df.ChoiceFilter(field_name="action", choices=Action.choices)
    since = df.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = df.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields: list[str] = []


def audit_filter(queryset: QuerySet, params: Any) -> QuerySet:
    """`queryset` narrowed by the filters in `params`. Raises ValidationFailed naming each
    unknown, repeated, empty or invalid parameter."""
    known = set(AuditFilterSet.base_filters) | PAGING_PARAMETERS
    errors = {name: ["Unknown filter or parameter."] for name in params if name not in known}
    for name in params:
        values = params.getlist(name)
        if name in known and len(values) > 1:
            errors[name] = ["Give this parameter once."]
        elif name in known and name not in PAGING_PARAMETERS and values == [""]:
            errors[name] = ["A value is required."]
    if errors:
        raise ValidationFailed(errors)
    filters = AuditFilterSet(params, queryset=queryset)
    if not filters.is_valid():
        raise ValidationFailed({name: list(msgs) for name, msgs in filters.errors.items()})
    return filters.qs
