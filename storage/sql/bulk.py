"""Bulk insert of validated rows through PostgreSQL's COPY, compiled once per storage version.

Django's bulk_create compiles every value of every row into SQL, which cost more than the
database's own work on a 10,000-row request. COPY takes the rows in binary, each value
dumped by psycopg's adapter for its column's type, with no SQL per row. It runs on the
connection Django holds, inside the caller's atomic block: a refused row, a statement
timeout or a lost connection rolls everything back with the transaction.

A serial key is drawn from its sequence before the COPY, in one round trip, so the caller
knows each new row's key (as INSERT ... RETURNING tells bulk_create).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson
from django.db import connection, models
from psycopg import sql
from psycopg.types.json import set_json_dumps

from factory.schema.ddl import TableChanged
from factory.schema.specs import SYSTEM_FIELDS, FieldSpec, StorageSpec
from factory.schema.types import FIELD_TYPES

# One round trip for n keys: the sequence is looked up once (in FROM), then advanced n times.
_NEXT_KEYS = (
    "SELECT nextval(seq) FROM pg_get_serial_sequence(%s, %s) AS seq, generate_series(1, %s)"
)


def _json_dumps(value: Any) -> bytes | str:
    """orjson where it can (several times faster); the standard library for what orjson
    refuses (integers beyond 64 bits), as Django's JSONField would write them."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value)


@dataclass(frozen=True)
class CopyInsert:
    """COPY <table> (<every column>) FROM STDIN (FORMAT BINARY) for one model."""

    statement: sql.Composed
    types: tuple[str, ...]
    row_values: Callable[[dict[str, Any]], tuple[Any, ...]]
    # Columns with a Python-side default (a uuid key), filled in when absent.
    defaults: tuple[tuple[str, Callable[[], Any]], ...]
    # (table, column) of a serial key, whose values come from its sequence.
    serial_key: tuple[str, str] | None
    key_name: str

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Insert `rows` (values by attribute name, every column without a default
        present), filling in each one's key and defaults, in the caller's transaction
        (Django's connection, PostgreSQL only). Raises django.db.IntegrityError (unique,
        check) and the other django.db errors; the transaction must then roll back."""
        if not rows:
            return
        with connection.cursor() as cursor:
            if self.serial_key is not None:
                table, column = self.serial_key
                cursor.execute(_NEXT_KEYS, [connection.ops.quote_name(table), column, len(rows)])
                keys = [key for (key,) in cursor.fetchall()]
                if None in keys:  # the table by that name has no serial key: another one
                    raise TableChanged(f"{table} has no serial key {column} any more")
                keys.sort()
                for row, key in zip(rows, keys, strict=True):
                    row[self.key_name] = key
            self.fill_defaults(rows)
            self._copy(cursor.cursor, rows)

    def fill_defaults(self, rows: list[dict[str, Any]]) -> None:
        for name, default in self.defaults:
            for row in rows:
                if name not in row:
                    row[name] = default()

    def _copy(self, raw_cursor: Any, rows: list[dict[str, Any]]) -> None:
        set_json_dumps(_json_dumps, context=raw_cursor)
        row_values = self.row_values
        with connection.wrap_database_errors, raw_cursor.copy(self.statement) as copy:
            copy.set_types(self.types)
            for row in rows:
                copy.write_row(row_values(row))


def copy_insert(model: type[models.Model]) -> CopyInsert:
    """Compile the COPY of `model`'s rows; pure: touches no database."""
    fields = model._meta.concrete_fields
    table = model._meta.db_table
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    )
    key = model._meta.pk
    serial = isinstance(key, models.fields.AutoFieldMixin)
    types = copy_types(model._definition)  # type: ignore[attr-defined]
    return CopyInsert(
        statement=statement,
        types=tuple(types[f.attname] for f in fields),
        row_values=_row_values([f.attname for f in fields]),
        defaults=tuple((f.attname, f.get_default) for f in fields if f.has_default()),
        serial_key=(table, key.column) if serial else None,
        key_name=key.attname,
    )


def copy_types(definition: dict[str, Any]) -> dict[str, str]:
    """The PostgreSQL type each column's values are dumped as, by attribute name: its
    type's `copy_type`, which picks psycopg's binary dumper and must match the column's
    type (COPY BINARY does not convert)."""
    spec = StorageSpec.from_normal(definition)
    types = {spec.primary_key.name: spec.primary_key.type.copy_as}
    for name, kind in SYSTEM_FIELDS.items():
        types[name] = FIELD_TYPES[kind].copy_type(FieldSpec(name=name, type=FIELD_TYPES[kind]))
    types.update((field.name, field.type.copy_type(field)) for field in spec.fields)
    return types


def _row_values(names: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:  # itemgetter of one name returns the value, not a 1-tuple
        (name,) = names
        return lambda row: (row[name],)
    return itemgetter(*names)
