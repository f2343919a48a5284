"""Insert-or-update of validated rows by a unique key: the records SQL of an upsert.

On PostgreSQL one `INSERT ... SELECT FROM unnest(<one array per column>) ON CONFLICT (...)
DO UPDATE ... WHERE ...` writes a round of items (items whose keys do not repeat, sending
the same fields): no statement per row, twelve parameters whatever the count. PostgreSQL
decides each conflict against the row as committed, after waiting for any writer of the
same key, so concurrent upserts of one key never lose the newest value (`keep_newer`), and
rows are inserted in key order, so that two bulks sharing keys take their locks in one
order and never deadlock. The DO UPDATE's WHERE leaves a row whose sent values are already
stored untouched: no new `_version`, no new `_updated_at`, nothing for the change feed.
The rows the statement did not return (unchanged, stale, or skipped by ignore-duplicates)
are read in a second statement, to answer with what is stored.

On SQLite (one writer at a time) each item is looked up, then inserted or updated.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

from factory.schema import feed, record_versions
from factory.schema.partitioning import is_partitioned
from storage.serializers import RowRecord

CREATED, UPDATED, UNCHANGED, SKIPPED, STALE = "created", "updated", "unchanged", "skipped", "stale"


@dataclass(frozen=True)
class Round:
    """Items one statement writes: no conflict key twice, every item sending `sent`."""

    rows: list[dict[str, Any]]  # validated values, defaults filled in
    positions: list[int]  # each row's position in the request
    sent: tuple[str, ...]  # the fields a merge changes (those the items sent)
    repeat: bool = False  # every key of these rows was written by an earlier round


@dataclass(frozen=True)
class Target:
    """What an upsert writes against: the conflict columns, merge or ignore, keep_newer."""

    conflict: tuple[str, ...]
    merge: bool
    keep_newer: str | None


def upsert_round(
    runtime: Any, target: Target, round_: Round, now: datetime.datetime
) -> Iterator[tuple[int, str, Any]]:
    """Write one round; yields (position, operation, the record as stored) for each row.
    Raises django.db.IntegrityError (another unique index) and other django.db errors."""
    if connection.vendor == "postgresql":
        return iter(_postgresql(runtime, target, round_, now))
    return iter(_one_by_one(runtime, target, round_, now))


# --- PostgreSQL --------------------------------------------------------------------------


def _postgresql(
    runtime: Any, target: Target, round_: Round, now: datetime.datetime
) -> list[tuple[int, str, Any]]:
    model, select = runtime.model, runtime.select_by_key
    fields = {field.attname: field for field in model._meta.concrete_fields}
    if record_versions.update_version_sql(model) is None:
        # A distributed table: DO UPDATE may not draw (Citus runs it on the shards), so each
        # row carries a version drawn here, which an insert and an update alike store.
        drawn = record_versions.take(model._meta.db_table, len(round_.rows))
        rows = [{**row, "_version": v} for row, v in zip(round_.rows, drawn, strict=True)]
        round_ = Round(
            rows=rows, positions=round_.positions, sent=round_.sent, repeat=round_.repeat
        )
    columns = [name for name in round_.rows[0] if name in fields]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    position_of = {
        _key(row, target.conflict): (at, row)
        for row, at in zip(round_.rows, round_.positions, strict=True)
    }
    # A row written with every field the item sent is the item's values: only the key, the
    # conflict fields and the system fields come back (converting 10,000 whole rows was a
    # third of a bulk upsert). A merge of some fields returns the whole row.
    lean = not target.merge or set(runtime.validator.specs) <= set(round_.sent)
    back = _lean_columns(runtime, target) if lean else None
    statement, params = _insert(model, table, columns, target, round_, now, back)
    results: list[tuple[int, str, Any]] = []
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        for row in cursor.fetchall():
            if back is None:
                record = select.record(row[:-1])
                at, _ = position_of.pop(_key(vars(record), target.conflict))
            else:
                returned = dict(zip(back, row[:-1], strict=True))
                at, item = position_of.pop(_key(returned, target.conflict))
                record = RowRecord({**item, **returned}, runtime.key_name)
            results.append((at, CREATED if row[-1] else UPDATED, record))
        if position_of:
            results += _stored(cursor, runtime, target, position_of)
    return results


def _lean_columns(runtime: Any, target: Target) -> tuple[str, ...]:
    names = (runtime.key_name, *target.conflict, "_version", "_created_at", "_updated_at")
    return tuple(dict.fromkeys(names))


def _insert(
    model: type[models.Model],
    table: str,
    columns: list[str],
    target: Target,
    round_: Round,
    now: datetime.datetime,
    back: tuple[str, ...] | None,
) -> tuple[str, list[Any]]:
    quote = connection.ops.quote_name
    fields = {field.attname: field for field in model._meta.concrete_fields}
    names = [quote(fields[name].column) for name in columns]
    arrays, params = [], []
    for name in columns:
        values = [row[name] for row in round_.rows]
        kind = fields[name].db_type(connection)
        if all(value is None for value in values):
            # psycopg cannot tell a list of nulls' type (nor can the server, bound)
            arrays.append(f"array_fill(NULL::{kind}, ARRAY[%s])")
            params.append(len(values))
        else:
            arrays.append(f"%s::{kind}[]")
            params.append(_array(fields[name], values))
    unnest = ", ".join(arrays)
    stamp = quote("_created_at"), quote("_updated_at")
    conflict = ", ".join(quote(fields[name].column) for name in target.conflict)
    inserted, inserted_params = _inserted(model, round_, now)
    statement = (
        f"INSERT INTO {table} ({', '.join(names)}, {stamp[0]}, {stamp[1]}) "
        f"SELECT {', '.join(f'x.c{i}' for i in range(len(columns)))}, %s, %s "
        f"FROM unnest({unnest}) AS x({', '.join(f'c{i}' for i in range(len(columns)))}) "
        f"ORDER BY {', '.join(f'x.c{columns.index(name)}' for name in target.conflict)} "
        f"ON CONFLICT ({conflict}) {_resolution(model, table, target, round_.sent)} "
        f"RETURNING {_returning(model, back)}, {inserted}"
    )
    return statement, [now, now, *params, *inserted_params]


def _inserted(
    model: type[models.Model], round_: Round, now: datetime.datetime
) -> tuple[str, list[Any]]:
    """Whether a returned row was inserted (else updated). `xmax = 0` says it, but
    PostgreSQL refuses system columns in a partitioned table's RETURNING: there, a row
    whose `_created_at` is this request's (DO UPDATE keeps the stored one) was inserted,
    but for keys an earlier round of the request already wrote."""
    if not is_partitioned(model._definition):  # type: ignore[attr-defined]
        return "(xmax = 0)", []
    if round_.repeat:
        return "FALSE", []
    return f"({connection.ops.quote_name('_created_at')} = %s)", [now]


def _resolution(
    model: type[models.Model], table: str, target: Target, sent: tuple[str, ...]
) -> str:
    quote = connection.ops.quote_name
    changed = [name for name in sent if name not in target.conflict]
    if not target.merge or not changed:
        return "DO NOTHING"
    columns = [quote(model._meta.get_field(name).column) for name in changed]
    version = record_versions.update_version_sql(model) or f"EXCLUDED.{quote('_version')}"
    assignments = [f"{column} = EXCLUDED.{column}" for column in columns]
    assignments += [
        f"{quote('_version')} = {version}",
        f"{quote('_updated_at')} = EXCLUDED.{quote('_updated_at')}",
    ]
    stamp = feed.upsert_stamp(model)
    if stamp is not None:
        assignments.append(stamp)
    mine = ", ".join(f"{table}.{column}" for column in columns)
    theirs = ", ".join(f"EXCLUDED.{column}" for column in columns)
    where = f"ROW({mine}) IS DISTINCT FROM ROW({theirs})"
    if target.keep_newer is not None:
        newer = quote(model._meta.get_field(target.keep_newer).column)
        where += f" AND ({table}.{newer} IS NULL OR EXCLUDED.{newer} >= {table}.{newer})"
    return f"DO UPDATE SET {', '.join(assignments)} WHERE {where}"


def _returning(model: type[models.Model], names: tuple[str, ...] | None) -> str:
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    if names is not None:
        fields = [model._meta.get_field(name) for name in names]
    return ", ".join(quote(field.column) for field in fields)


def _stored(
    cursor: Any, runtime: Any, target: Target, position_of: dict[tuple, tuple[int, dict]]
) -> list[tuple[int, str, Any]]:
    """The stored rows of the items the INSERT did not return, and why it did not."""
    model, select = runtime.model, runtime.select_by_key
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = [model._meta.get_field(name) for name in target.conflict]
    keys = list(position_of)
    unnest = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    aliases = ", ".join(f"k{i}" for i in range(len(fields)))
    joined = " AND ".join(
        f"{table}.{quote(field.column)} = x.k{i}" for i, field in enumerate(fields)
    )
    cursor.execute(
        f"SELECT {select.columns} FROM unnest({unnest}) AS x({aliases}) JOIN {table} ON {joined}",
        [_array(field, [key[i] for key in keys]) for i, field in enumerate(fields)],
    )
    results = []
    for row in cursor.fetchall():
        record = select.record(row)
        at, incoming = position_of[_key(vars(record), target.conflict)]
        results.append((at, _unwritten(target, incoming, record), record))
    return results


def _unwritten(target: Target, incoming: dict[str, Any], stored: Any) -> str:
    """Why an item the upsert met stored was not written: skipped (ignore-duplicates),
    stale (older than the stored record by `keep_newer`), or unchanged."""
    if not target.merge:
        return SKIPPED
    if _older(target, incoming, stored):
        return STALE
    return UNCHANGED


def _older(target: Target, incoming: dict[str, Any], stored: Any) -> bool:
    if target.keep_newer is None:
        return False
    current = getattr(stored, target.keep_newer)
    return current is not None and incoming[target.keep_newer] < current


def _array(field: models.Field, values: list[Any]) -> list[Any]:
    if isinstance(field, models.JSONField):
        return [None if value is None else Jsonb(value) for value in values]
    return values


def _key(row: dict[str, Any], conflict: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(row[name] for name in conflict)


# --- SQLite ------------------------------------------------------------------------------


def _one_by_one(
    runtime: Any, target: Target, round_: Round, now: datetime.datetime
) -> Iterator[tuple[int, str, Any]]:
    model, select = runtime.model, runtime.select_by_key
    table = model._meta.db_table
    for row, at in zip(round_.rows, round_.positions, strict=True):
        existing = model.objects.filter(**{name: row[name] for name in target.conflict}).first()
        if existing is None:
            (version,) = record_versions.take(table, 1)
            created = model(**row, _version=version, _created_at=now, _updated_at=now)
            created.save(force_insert=True)
            yield at, CREATED, select.fetch(created.pk)
            continue
        operation = _decide(target, round_.sent, row, existing)
        if operation == UPDATED:
            changed = {name: row[name] for name in round_.sent if name not in target.conflict}
            (version,) = record_versions.take(table, 1)
            model.objects.filter(pk=existing.pk).update(
                **changed, _version=version, _updated_at=timezone.now()
            )
        yield at, operation, select.fetch(existing.pk)


def _decide(target: Target, sent: tuple[str, ...], row: dict[str, Any], existing: Any) -> str:
    if not target.merge:
        return SKIPPED
    if _older(target, row, existing):
        return STALE
    changed = [
        name
        for name in sent
        if name not in target.conflict and getattr(existing, name) != row[name]
    ]
    return UPDATED if changed else UNCHANGED
