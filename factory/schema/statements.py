"""Statements of the records API's hot paths, compiled once per storage version.

Django's ORM builds SQL anew for every query (about as costly as the round trip itself on
a primary-key read). The SQL here is still Django's own (from a queryset's compiler, names
quoted by Django) but compiled once; each request only binds its key and converts the row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, models

_PLACEHOLDER_KEYS = {
    models.BigAutoField: 0,
    models.BigIntegerField: 0,
    models.UUIDField: uuid.UUID(int=0),
    models.TextField: "",
}


@dataclass(frozen=True)
class KeyedSelect:
    """SELECT <columns> FROM <table> WHERE <pk> = %s, with the ORM's value converters."""

    sql: str
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Any, ...], Any], ...]
    key_field: models.Field

    def fetch(self, key: Any) -> SimpleNamespace | None:
        """The row with this primary key as attributes (like a model instance), or None."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [self.key_field.get_db_prep_value(key, connection)])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for position, functions, expression in self.converters:
            value = values[position]
            for convert in functions:
                value = convert(value, expression, connection)
            values[position] = value
        record = SimpleNamespace(**dict(zip(self.attnames, values, strict=True)))
        record.pk = getattr(record, self.key_field.attname)
        return record


def keyed_select(model: type[models.Model], *fields: str) -> KeyedSelect:
    """Compile a primary-key read of `fields` (all columns when none are named)."""
    key_field = model._meta.pk
    placeholder = _PLACEHOLDER_KEYS[type(key_field)]
    queryset = model.objects.filter(pk=placeholder)
    if fields:
        queryset = queryset.only(*fields)
    compiler = queryset.query.get_compiler(using=DEFAULT_DB_ALIAS)
    sql, params = compiler.as_sql()
    if len(params) != 1:
        raise ValueError(f"expected one parameter, got {params!r}")
    expressions = [column for column, _, _ in compiler.select]
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(expressions).items()
    )
    attnames = tuple(expression.target.attname for expression in expressions)
    return KeyedSelect(sql=sql, attnames=attnames, converters=converters, key_field=key_field)
