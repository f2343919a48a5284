"""Statements of the records API's hot paths, compiled once per storage version.

Django's ORM builds SQL anew for every query (about as costly as the round trip itself on
a primary-key read). The SQL here is still Django's own (from a queryset's compiler, names
quoted by Django) but compiled once; each request only binds its values and converts the
row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, models, transaction

from access.selectors import Guard
from factory.schema import feed, record_versions

_PLACEHOLDER_KEYS = {
    models.BigAutoField: 0,
    models.BigIntegerField: 0,
    models.UUIDField: uuid.UUID(int=0),
    models.TextField: "",
}


@dataclass(frozen=True)
class KeyedSelect:
    """SELECT <columns> FROM <table> WHERE <pk> = %s, with the ORM's value converters.

    Its parts serve the other statements of a row: `table`, `key_column` and `columns`
    (table-qualified) for reads joined with other tables, `returning` (bare names) for
    RETURNING clauses; `record` converts a row of either.
    """

    sql: str
    table: str
    key_column: str
    columns: str
    returning: str
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Any, ...], Any], ...]
    key_field: models.Field

    def key_param(self, key: Any) -> Any:
        return self.key_field.get_db_prep_value(key, connection)

    def fetch(self, key: Any) -> SimpleNamespace | None:
        """The row with this primary key as attributes (like a model instance), or None."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [self.key_param(key)])
            row = cursor.fetchone()
        return None if row is None else self.record(row)

    def record(self, row: Sequence[Any]) -> SimpleNamespace:
        """A row of `columns` (or `returning`), converted, as attributes."""
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
    statement, params = compiler.as_sql()
    if len(params) != 1:
        raise ValueError(f"expected one parameter, got {params!r}")
    expressions = [column for column, _, _ in compiler.select]
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(expressions).items()
    )
    quote = connection.ops.quote_name
    return KeyedSelect(
        sql=statement,
        table=quote(model._meta.db_table),
        key_column=f"{quote(model._meta.db_table)}.{quote(key_field.column)}",
        columns=", ".join(compiler.compile(expression)[0] for expression in expressions),
        returning=", ".join(quote(expression.target.column) for expression in expressions),
        attnames=tuple(expression.target.attname for expression in expressions),
        converters=converters,
        key_field=key_field,
    )


class KeyedUpdate:
    """UPDATE ... SET <fields>, _version = <a new version> WHERE pk = %s [AND _version IN
    (...)] RETURNING <every column>: one statement, one round trip, the row as written.
    The new version comes from the table's counter (record_versions): on PostgreSQL
    `nextval` in the statement; on SQLite drawn first, in the same transaction.

    The SET list differs from request to request (a PATCH names its fields), so the SQL
    is compiled per set of field names and number of versions, from names quoted by
    Django, and kept (a bounded number of shapes: clients choose them). With a `Guard`
    the UPDATE takes effect only when the guard's query returns a row, in the same
    statement (the records front door checks the token that way: storage.frontdoor).
    """

    MAX_SHAPES = 256

    def __init__(self, model: type[models.Model], select: KeyedSelect) -> None:
        self.select = select
        self.fields = {field.attname: field for field in model._meta.concrete_fields}
        self.table_name = model._meta.db_table
        self.table = connection.ops.quote_name(self.table_name)
        self.next_version = record_versions.update_version_sql(model)
        self.stamp = feed.update_stamp(model)
        self._shapes: dict[tuple[tuple[str, ...], int | None, str | None], str] = {}

    def run(
        self,
        *,
        key: Any,
        versions: set[int] | None,
        values: dict[str, Any],
        updated_at: Any,
        guard: Guard | None = None,
    ) -> SimpleNamespace | None:
        """The row as updated, or None when no row has this key (and one of these
        versions; any version when None), or when `guard` holds no row."""
        names = tuple(values)
        count = None if versions is None else len(versions)
        statement = self._statement(names, count, guard.name if guard else None)
        params = list(guard.params) if guard else []
        if guard is not None:
            statement = f"WITH {guard.name} AS ({guard.sql}) {statement}"
        params += [self.fields[name].get_db_prep_save(values[name], connection) for name in names]
        with self._drawing() as drawn:
            params += drawn
            params.append(self.fields["_updated_at"].get_db_prep_save(updated_at, connection))
            params.append(self.select.key_param(key))
            params.extend(versions or ())
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                row = cursor.fetchone()
        return None if row is None else self.select.record(row)

    @contextmanager
    def _drawing(self) -> Iterator[list[int]]:
        """The new version as a parameter, when the statement cannot draw it (SQLite, a
        distributed table): taken in the write's own transaction, so that no other write
        comes between."""
        if self.next_version is not None:
            yield []
            return
        with transaction.atomic():
            yield record_versions.take(self.table_name, 1)

    def _statement(self, names: tuple[str, ...], versions: int | None, guard: str | None) -> str:
        shape = (names, versions, guard)
        statement = self._shapes.get(shape)
        if statement is None:
            statement = self._compile(names, versions, guard)
            if len(self._shapes) >= self.MAX_SHAPES:
                self._shapes.clear()
            self._shapes[shape] = statement
        return statement

    def _compile(self, names: tuple[str, ...], versions: int | None, guard: str | None) -> str:
        quote = connection.ops.quote_name
        column = {name: quote(field.column) for name, field in self.fields.items()}
        version = column["_version"]
        assignments = [f"{column[name]} = %s" for name in names]
        next_version = self.next_version or "%s"
        assignments += [f"{version} = {next_version}", f"{column['_updated_at']} = %s"]
        if self.stamp is not None:
            assignments.append(self.stamp)
        key = quote(self.select.key_field.column)
        where = f"{key} = %s"
        if versions is not None:
            where += f" AND {version} IN ({', '.join(['%s'] * versions)})"
        if guard is not None:
            where += f" AND EXISTS (SELECT 1 FROM {guard})"
        return (
            f"UPDATE {self.table} SET {', '.join(assignments)} WHERE {where} "
            f"RETURNING {self.select.returning}"
        )
