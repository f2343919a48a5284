"""The partitions of a partitioned storage table (PostgreSQL): create the table, add
partitions ahead, drop expired ones, and build indexes online on every partition.

factory.schema.partitioning says which definitions are partitioned and the calendar.
Partitions are named `<table>_p<YYYYMMDD>` (the first day of their interval, UTC), the
default partition `<table>_default`: at most 63 characters for a 50-character storage name.

A partition is added as a table of its own (`LIKE` the parent), then attached: CREATE
TABLE ... PARTITION OF would lock the whole parent against reads and writes, ATTACH takes
a lock that lets them go on. Rows of its range already in the default partition (written
before the partition existed) are moved into it first, in the same transaction: PostgreSQL
refuses to attach a partition whose rows are still in the default one. Every statement of
the worker's gives up on its lock after LOCK_TIMEOUT, so a writer never queues behind it
for long; the transaction rolls back whole (nothing moved, nothing lost) and is retried.

Names come from validated definitions and dates; nothing here formats SQL from a request.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from django.db import connection, models, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from factory.schema import distribution, names
from factory.schema.builder import partitioned_table_model
from factory.schema.partitioning import next_start

# Shorter than the schema changes' (ddl.LOCK_TIMEOUT): a DETACH waits for an exclusive lock
# of the parent, and every writer of the storage queues behind it while it waits.
LOCK_TIMEOUT = "500ms"
_SUFFIX = "_p"


def partition_name(table: str, start: datetime.date) -> str:
    return f"{table}{_SUFFIX}{start:%Y%m%d}"


def default_name(table: str) -> str:
    return f"{table}_default"


def create_table(editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> None:
    """The partitioned parent and its default partition, in the caller's transaction.

    Django generates the columns, checks and unique constraints (from a model whose
    primary key is (key, partition field), builder.partitioned_table_model); PARTITION BY
    is added here, which create_model cannot emit. Indexes are deferred, as create_model
    does: on the parent they are made on every partition, and on every later one.
    """
    twin = partitioned_table_model(model)
    sql, params = editor.table_sql(twin)
    column = editor.quote_name(_partition_column(model))
    editor.execute(f"{sql} PARTITION BY RANGE ({column})", params or None)
    editor.deferred_sql.extend(editor._model_indexes_sql(twin))
    table = editor.quote_name(model._meta.db_table)
    default = editor.quote_name(default_name(model._meta.db_table))
    editor.execute(f"CREATE TABLE {default} PARTITION OF {table} DEFAULT", None)


class Partition(NamedTuple):
    name: str
    start: datetime.date
    end: datetime.date


def partitions(table: str, interval: str) -> list[Partition]:
    """The dated partitions of `table` (not the default one), oldest first."""
    prefix = f"{table}{_SUFFIX}"
    dated = []
    for name in _partition_tables(table):
        if name.startswith(prefix):
            start = datetime.datetime.strptime(name[len(prefix) :], "%Y%m%d").date()
            dated.append(Partition(name, start, next_start(start, interval)))
    return sorted(dated, key=lambda partition: partition.start)


def add_partitions(model: type[models.Model], starts: list[datetime.date]) -> list[str]:
    """Add the partitions starting on `starts` that `model`'s table lacks, each in a
    transaction of its own (in the caller's, when there is one); returns their names."""
    table, spec = model._meta.db_table, model._definition["partition"]
    have = {partition.start for partition in partitions(table, spec["interval"])}
    added = []
    for start in sorted(set(starts) - have):
        with _short_locks():
            _add_partition(model, start, next_start(start, spec["interval"]))
        added.append(partition_name(table, start))
    return added


def _add_partition(model: type[models.Model], start: datetime.date, end: datetime.date) -> None:
    quote = connection.ops.quote_name
    table = model._meta.db_table
    parent, default = quote(table), quote(default_name(table))
    part = quote(partition_name(table, start))
    column = quote(_partition_column(model))
    low, high = _bound(model, start), _bound(model, end)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {part} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        # ATTACH takes this lock of the default partition anyway (to scan it): taken first,
        # no row of the range can land there between the move and the attach.
        cursor.execute(f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE")
        columns = ", ".join(quote(name) for name in _columns(cursor, table))
        # Straight from partition to partition: the parent's statement triggers (the
        # feed's tombstones) do not fire, and the rows keep their feed positions.
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE {column} >= %s AND {column} < %s "
            f"RETURNING {columns}) INSERT INTO {part} ({columns}) SELECT {columns} FROM moved",
            [low, high],
        )
        cursor.execute(
            f"ALTER TABLE {parent} ATTACH PARTITION {part} FOR VALUES FROM ('{low}') TO ('{high}')"
        )


def drop_partitions(model: type[models.Model], expired: list[Partition], marker: Any) -> None:
    """DETACH then DROP the `expired` partitions, and call `marker(cursor)` (the feed's
    mark of what went), in one transaction: all of it or none."""
    quote = connection.ops.quote_name
    parent = quote(model._meta.db_table)
    with _short_locks(), connection.cursor() as cursor:
        for partition in expired:
            cursor.execute(f"ALTER TABLE {parent} DETACH PARTITION {quote(partition.name)}")
            cursor.execute(f"DROP TABLE {quote(partition.name)}")
        marker(cursor)


def rows(partition: str) -> int:
    """How many rows one partition holds (the default one: normally none, a cheap count)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(partition)}")
        return cursor.fetchone()[0]


def _partition_column(model: type[models.Model]) -> str:
    return model._meta.get_field(model._definition["partition"]["field"]).column


def _bound(model: type[models.Model], day: datetime.date) -> str:
    """A partition bound: a date, or midnight UTC of that date for a datetime field."""
    field = model._meta.get_field(model._definition["partition"]["field"])
    if isinstance(field, models.DateTimeField):
        return f"{day.isoformat()} 00:00:00+00"
    return day.isoformat()


def _columns(cursor: Any, table: str) -> list[str]:
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


@contextmanager
def _short_locks() -> Iterator[None]:
    with transaction.atomic():
        distribution.set_lock_timeout(LOCK_TIMEOUT)  # on the workers too, for a Citus table
        yield


# --- Indexes built online ----------------------------------------------------------------
# CREATE INDEX CONCURRENTLY cannot build an index of a partitioned table. PostgreSQL's
# documented way: the index ON ONLY the parent (invalid, empty), the same index built
# CONCURRENTLY on each partition, each attached to it; the parent's index is valid once
# every partition has one attached. A partition attached later gets its own at once.


def build_index(editor: BaseDatabaseSchemaEditor, table: str, name: str, sql: str) -> None:
    """Build the index `sql` creates (CREATE [UNIQUE] INDEX <name> ON <table> ..., as
    Django spells it, not concurrently) on a partitioned `table`, outside a transaction;
    resumable: what a run cut off left is found and finished."""
    quote = editor.quote_name
    head, rest = sql.split(f" ON {quote(table)}", 1)
    unique = " UNIQUE" if head.startswith("CREATE UNIQUE") else ""
    if _index_oid(name) is None:
        editor.execute(f"{head} ON ONLY {quote(table)}{rest}", None)
    attached = _attached_partitions(name)
    for part in _partition_tables(table):
        if part in attached:
            continue
        child = names.object_name("dsp", part, name)
        state = _valid(child)
        if state is False:  # a concurrent build cut off
            editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(child)}", None)
        if state is not True:
            editor.execute(
                f"CREATE{unique} INDEX CONCURRENTLY {quote(child)} ON {quote(part)}{rest}", None
            )
        editor.execute(f"ALTER INDEX {quote(name)} ATTACH PARTITION {quote(child)}", None)


def drop_index(editor: BaseDatabaseSchemaEditor, name: str) -> None:
    """DROP INDEX of a partitioned table (with its partitions' indexes): PostgreSQL has no
    concurrent form for it, so under a short lock timeout (the caller retries)."""
    with _short_locks():
        editor.execute(f"DROP INDEX IF EXISTS {editor.quote_name(name)}", None)


def _index_oid(name: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)::oid", [name])
        return cursor.fetchone()[0]


def _valid(name: str) -> bool | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
        row = cursor.fetchone()
    return None if row is None else row[0]


def _partition_tables(table: str) -> list[str]:
    """Every partition of `table`, the default one included (none when there is no such
    table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [table],
        )
        return [row[0] for row in cursor.fetchall()]


def _attached_partitions(index: str) -> set[str]:
    """The partitions that have an index attached to the partitioned index `index`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.relname FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid "
            "JOIN pg_class t ON t.oid = x.indrelid WHERE i.inhparent = %s::regclass",
            [index],
        )
        return {row[0] for row in cursor.fetchall()}
