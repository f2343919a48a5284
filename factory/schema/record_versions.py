"""Where records' `_version`s come from: one counter per storage table that never goes back.

A record's `_version` is its ETag, so it must never name two contents of one key: counted
per record from 1, a record deleted and created again under its key was "1" again, and
`If-Match: "1"` overwrote a record the client never read. Drawn from a counter per
storage instead, a version is unique within the storage and strictly increasing per
record (not consecutive); a fresh storage's first record still gets 1.

- PostgreSQL: a sequence (`names.version_counter`) owned by the table's `_version` column,
  so it goes with the table. An INSERT takes it as the column's default (builder.py), an
  UPDATE sets `_version = nextval(...)` (statements.KeyedUpdate), a bulk draws its
  versions before its COPY (`take`). Sequences take no lock: writers never wait on it.
- SQLite: a one-row table of the same name, advanced in the writer's transaction (SQLite
  serialises writers, so no other write falls between the draw and its use).
"""

from __future__ import annotations

from django.db import connection, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from factory.schema import distribution, names


def next_version_sql(table: str) -> str | None:
    """SQL for a new version inside a statement (PostgreSQL), else None: draw with `take`."""
    if connection.vendor != "postgresql":
        return None
    return f"nextval('{names.version_counter(table)}'::regclass)"


def update_version_sql(model: type[models.Model]) -> str | None:
    """SQL for a new version inside an UPDATE of `model`'s table, else None: draw with
    `take` first, in the same transaction. None on SQLite, and for a distributed table:
    Citus runs an UPDATE on the shards, and refuses a volatile function (nextval) there."""
    if distribution.is_distributed(model._definition):  # type: ignore[attr-defined]
        return None
    return next_version_sql(model._meta.db_table)


def create_counter(editor: BaseDatabaseSchemaEditor, table: str, *, after: int = 0) -> None:
    """The counter of `table`, whose next version is `after` + 1; on PostgreSQL before
    the table (its column default names it), then `attach_counter` once the table exists."""
    counter = editor.quote_name(names.version_counter(table))
    if connection.vendor == "postgresql":
        editor.execute(f"CREATE SEQUENCE {counter} START {int(after) + 1}", None)
        return
    editor.execute(f"CREATE TABLE {counter} (value bigint NOT NULL)", None)
    editor.execute(f"INSERT INTO {counter} (value) VALUES ({int(after)})", None)


def attach_counter(editor: BaseDatabaseSchemaEditor, table: str) -> None:
    """PostgreSQL: the sequence goes with the table's `_version` column (dropped with it)
    and is that column's default."""
    if connection.vendor != "postgresql":
        return
    counter = editor.quote_name(names.version_counter(table))
    quoted, column = editor.quote_name(table), editor.quote_name("_version")
    editor.execute(f"ALTER SEQUENCE {counter} OWNED BY {quoted}.{column}", None)
    editor.execute(
        f"ALTER TABLE {quoted} ALTER COLUMN {column} SET DEFAULT {next_version_sql(table)}", None
    )


def drop_counter(editor: BaseDatabaseSchemaEditor, table: str) -> None:
    """SQLite's counter table (PostgreSQL's sequence is dropped with its table)."""
    if connection.vendor != "postgresql":
        counter = editor.quote_name(names.version_counter(table))
        editor.execute(f"DROP TABLE IF EXISTS {counter}", None)


def take(table: str, count: int) -> list[int]:
    """`count` new versions of `table`'s records, ascending. On SQLite, call it in the
    transaction that writes them."""
    counter = connection.ops.quote_name(names.version_counter(table))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if connection.in_atomic_block:
                # The table's lock before the sequence's, in the order DROP TABLE takes
                # them: a bulk drawing its versions and a storage being dropped would
                # otherwise deadlock (the writer's COPY comes after its draw).
                quoted = connection.ops.quote_name(table)
                cursor.execute(f"LOCK TABLE {quoted} IN ROW EXCLUSIVE MODE")
            cursor.execute(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [counter, count]
            )
            return sorted(version for (version,) in cursor.fetchall())
        cursor.execute(f"UPDATE {counter} SET value = value + %s RETURNING value", [count])
        (last,) = cursor.fetchone()
    return list(range(last - count + 1, last + 1))
