"""Accept a plainly valid new record without running DRF's fields.

DRF validation costs about 2 µs a value (run_validation, validator objects, lazy messages);
on a 10,000-item bulk create it was most of the request. A check here takes one raw JSON
value and returns what the storage's DRF field would return for it, or REFER when the value
is anything other than plainly valid: wrong type, out of range, an unusual spelling, a null.
A record with any REFER goes through RecordValidator's DRF fields in full, so every error,
and every value this module has no opinion on, stays DRF's: each check (a field type's
`accept_check`, factory.schema.types) accepts a subset of what its field accepts and returns
the same value (storage/tests/test_accept.py compares the two on edge cases of every type).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers

from factory.schema.specs import FieldSpec, StorageSpec
from factory.schema.types import REFER, Check

__all__ = ["REFER", "RecordAcceptor", "value_check"]


class RecordAcceptor:
    """`accept(data)`: the values `RecordValidator.for_create(data)` would return, or None
    when DRF must decide (an invalid record, or one this check does not vouch for)."""

    def __init__(
        self,
        definition: StorageSpec,
        fields: dict[str, serializers.Field],
        key_field: serializers.Field,
    ) -> None:
        specs = definition.fields
        self.checks = {spec.name: value_check(spec, fields[spec.name]) for spec in specs}
        self.nullable = frozenset(spec.name for spec in specs if spec.nullable)
        key = definition.primary_key
        self.key_name = key.name
        if not key.type.generated:
            self.checks[self.key_name] = key.type.accept_check(key_field)
        self.key_required = key.type.natural
        self.omitted = [(spec.name, _omitted_value(spec, fields[spec.name])) for spec in specs]

    def accept(self, data: Any) -> dict[str, Any] | None:
        if type(data) is not dict:
            return None
        values = self._given(data)
        if values is None:
            return None
        if self.key_name in values:
            given = len(values) - 1
        elif self.key_required:
            return None
        else:
            given = len(values)
        return values if given == len(self.omitted) else self._completed(values)

    def _given(self, data: dict[Any, Any]) -> dict[str, Any] | None:
        checks, nullable = self.checks, self.nullable
        values = {}
        for name, raw in data.items():
            check = checks.get(name)
            if check is None:  # unknown, system or serial key: DRF words the error
                return None
            if raw is None:
                if name not in nullable:
                    return None
                values[name] = None
                continue
            value = check(raw)
            if value is REFER:
                return None
            values[name] = value
        return values

    def _completed(self, values: dict[str, Any]) -> dict[str, Any] | None:
        for name, value in self.omitted:
            if name not in values:
                if value is REFER:
                    return None
                values[name] = value
        return values


def _omitted_value(spec: FieldSpec, field: serializers.Field) -> Any:
    """What RecordValidator._complete fills in for an omitted field (REFER: an error)."""
    if spec.required:
        return REFER
    if spec.has_default:
        try:
            return field.run_validation(spec.default)
        except serializers.ValidationError:
            return REFER
    return None if spec.nullable else REFER


def value_check(spec: FieldSpec, field: serializers.Field) -> Check:
    """The check of one field's non-null values: the value DRF's `field` returns for a
    raw value, or REFER. (A null is the field's `nullable` alone: RecordAcceptor.)"""
    check = spec.type.accept_check(spec, field)
    if spec.choices:
        check = _with_choices(check, spec.choices, field.to_representation)
    return check


def _with_choices(check: Check, choices: list[Any], represent: Callable[[Any], Any]) -> Check:
    # As types.choices_validator compares: the value's representation, by ==.
    allowed = list(choices)

    def one_of(raw: Any) -> Any:
        value = check(raw)
        if value is REFER or represent(value) not in allowed:
            return REFER
        return value

    return one_of
