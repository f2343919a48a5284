"""The one caller of Django's schema editor: every CREATE/ALTER/DROP of a storage table.

Names come from validated definitions and are quoted by the schema editor; nothing here
formats SQL from user input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.utils import timezone

from factory.schema import distribution, feed, partitions, record_versions
from factory.schema.partitioning import is_partitioned, starts_ahead


@contextmanager
def schema_transaction() -> Iterator[BaseDatabaseSchemaEditor]:
    """One transaction for metadata writes and DDL together; yields the schema editor.

    PostgreSQL and SQLite both roll DDL back, so a failure leaves no half-made table.
    (SQLite's editor must open the transaction itself: it cannot start inside one.)
    """
    with connection.schema_editor(atomic=True) as editor:
        yield editor
        # Django runs the deferred statements (indexes) in the editor's __exit__ and, when
        # one fails, never leaves its atomic block: the connection stays in a broken
        # transaction. Run them here, inside the block, so a failure rolls everything back.
        while editor.deferred_sql:
            editor.execute(editor.deferred_sql.pop(0), None)


def create_table(editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> None:
    """CREATE TABLE with its constraints and indexes (deferred to the end of the block).

    Storage models are *managed* (builder.py) precisely so that create_model() and SQLite's
    table rebuilds include their Meta.indexes; Django skips them for unmanaged models.
    With the table, the counter its records' versions come from (record_versions), and
    what feeds its change feed (feed). A partitioned storage's table is made by
    factory.schema.partitions, with its default partition and PARTITIONS_AHEAD partitions
    after the current one, so that no write waits for the worker to make one.
    """
    table = model._meta.db_table
    record_versions.create_counter(editor, table)
    partition = model._definition.get("partition")
    if partition is None:
        editor.create_model(model)
    else:
        partitions.create_table(editor, model)
    record_versions.attach_counter(editor, table)
    shards = distribution.shards(model._definition)
    install_feed(editor, model, triggers=shards is None)
    if partition is not None:
        ahead = starts_ahead(timezone.now(), partition["interval"], settings.PARTITIONS_AHEAD)
        partitions.add_partitions(model, ahead)
    if shards is not None:
        distribute(editor, model, shards)  # with its partitions, when it has some


def distribute(editor: BaseDatabaseSchemaEditor, model: type[models.Model], shards: int) -> None:
    """Shard the new table by its primary key across the Citus cluster, in the transaction
    that created it (factory.schema.distribution: why by the key, why colocated with none).

    A distributed table has no feed triggers: they would run on the workers, whose
    transaction ids are not the coordinator's, and could not reach the tombstone table;
    the service writes what they would (factory.schema.feed)."""
    editor.execute(
        "SELECT create_distributed_table(%s, %s, shard_count => %s, colocate_with => 'none')",
        (model._meta.db_table, model._meta.pk.column, shards),
    )


def install_feed(
    editor: BaseDatabaseSchemaEditor, model: type[models.Model], *, triggers: bool = True
) -> None:
    """The feed's columns, triggers and index on `model`'s table, inside the caller's
    transaction (a new table, or SQLite's copy of one); idempotent (factory.schema.feed).
    A table to be distributed gets no triggers: the service writes what they would."""
    table, key_column = model._meta.db_table, model._meta.pk.column
    feed.install(editor, table, key_column, model._storage_id, triggers=triggers)
    feed.build_index(editor, table, key_column)


def build_feed_index(model: type[models.Model]) -> None:
    """The feed's position index on an existing table, CONCURRENTLY (outside any
    transaction), after dropping what a build cut off before left invalid."""
    table, key_column = model._meta.db_table, model._meta.pk.column
    with connection.schema_editor(atomic=False) as editor:
        if is_partitioned(model._definition):
            sql = feed.index_sql(editor, table, key_column)
            partitions.build_index(editor, table, feed.position_index(table), sql)
            return
        if index_state(table, feed.position_index(table)) == "invalid":
            drop_index(editor, model, feed.position_index(table))
        feed.build_index(editor, table, key_column)


def drop_table(editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> None:
    if distribution.is_distributed(model._definition):
        # Every node's lock first, in the order Citus takes them (the writers' too: their
        # first statement locks the table, record_versions.take): a bare DROP locks the
        # workers' shards later, and deadlocked with writers holding them.
        table = editor.quote_name(model._meta.db_table)
        editor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE", None)
    editor.delete_model(model)
    record_versions.drop_counter(editor, model._meta.db_table)


def table_exists(table: str) -> bool:
    with connection.cursor() as cursor:
        return table in connection.introspection.table_names(cursor)


# --- Online changes to a live table ------------------------------------------------------
# Each ALTER waits at most LOCK_TIMEOUT for its lock and is retried: a long-running query
# on the table must not turn a schema change into an outage of every writer queued behind.
LOCK_TIMEOUT = "2s"
_VALIDATE_CONSTRAINT = "ALTER TABLE %(table)s VALIDATE CONSTRAINT %(name)s"
LOCK_RETRIES = 8


def concurrent_builds() -> bool:
    """CREATE/DROP INDEX CONCURRENTLY is possible: PostgreSQL, outside a transaction."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


@contextmanager
def short_lock_transaction() -> Iterator[BaseDatabaseSchemaEditor]:
    """A schema transaction whose statements give up on a lock after LOCK_TIMEOUT."""
    with schema_transaction() as editor:
        if connection.vendor == "postgresql":
            distribution.set_lock_timeout(LOCK_TIMEOUT)
        yield editor


class TableChanged(DatabaseError):
    """A storage table is not the one a statement was compiled for (dropped, or declared
    again with other columns) in a way the database did not report as an error."""


# What a statement meets when its table was dropped or replaced under it: no such table
# (42P01) or column (42703), an operator of the old key type (42883), a value of the old
# type (42804), or a table dropped between planning and opening it (XX000).
_TABLE_CHANGED_STATES = frozenset({"42P01", "42703", "42883", "42804"})


def table_changed(exc: BaseException) -> bool:
    """Whether `exc` (a django.db error) says the table a statement named is gone or is
    another table now; a database outage is not such an error."""
    if isinstance(exc, TableChanged):
        return True
    if connection.vendor == "sqlite":
        message = str(exc)
        missing = message.startswith(("no such table", "no such column"))
        return isinstance(exc, OperationalError) and missing
    if not isinstance(exc, DatabaseError) or isinstance(exc, OperationalError | InterfaceError):
        return False
    state = getattr(exc.__cause__, "sqlstate", None)
    if state in _TABLE_CHANGED_STATES:
        return True
    return state == "XX000" and "could not open relation" in str(exc)


def is_lock_timeout(exc: BaseException) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "55P03"  # lock_not_available


def connection_lost() -> bool:
    """Whether this thread's database connection died (a database restart, a network cut),
    as opposed to a statement failing on a live connection."""
    raw = connection.connection
    return raw is not None and bool(getattr(raw, "closed", False) or getattr(raw, "broken", False))


def add_column(
    editor: BaseDatabaseSchemaEditor, model: type[models.Model], field: models.Field | str
) -> None:
    """ADD COLUMN with a constant database default: metadata-only on PostgreSQL.

    `field` is a field of `model`, or (SQLite) a field of the next model that `model` lacks.
    """
    if isinstance(field, str):
        field = model._meta.get_field(field)
    editor.add_field(model, field)


def alter_column(
    editor: BaseDatabaseSchemaEditor,
    old_model: type[models.Model],
    new_model: type[models.Model],
    name: str,
) -> None:
    """Widen a column (longer varchar, DROP NOT NULL): no rewrite on PostgreSQL."""
    editor.alter_field(old_model, old_model._meta.get_field(name), new_model._meta.get_field(name))


def replace_checks(
    editor: BaseDatabaseSchemaEditor,
    old: list[models.CheckConstraint],
    new: list[models.CheckConstraint],
    model: type[models.Model],
) -> None:
    """Swap a field's CHECK constraints for relaxed ones.

    On PostgreSQL the new constraint is added NOT VALID (no scan under an exclusive lock)
    and validated afterwards under a lock that lets reads and writes go on.
    """
    for constraint in old:
        editor.remove_constraint(model, constraint)
    for constraint in new:
        if connection.vendor != "postgresql":
            editor.add_constraint(model, constraint)
            continue
        editor.execute(f"{constraint.create_sql(model, editor)} NOT VALID", params=None)
        editor.execute(
            _VALIDATE_CONSTRAINT
            % {
                "table": editor.quote_name(model._meta.db_table),
                "name": editor.quote_name(constraint.name),
            },
            params=None,
        )


def index_state(table: str, name: str) -> str | None:
    """'valid', 'invalid' (a failed concurrent build) or None when there is no such index."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = %s AND i.indrelid = %s::regclass",
                [name, table],
            )
            row = cursor.fetchone()
            return None if row is None else ("valid" if row[0] else "invalid")
        constraints = connection.introspection.get_constraints(cursor, table)
    return "valid" if name in constraints else None


def is_constraint(table: str, name: str) -> bool:
    """Unique indexes made with the table are constraints; later ones are plain indexes."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_constraint WHERE conname = %s AND conrelid = %s::regclass",
            [name, table],
        )
        return cursor.fetchone() is not None


def add_index(
    editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    index: models.Index,
) -> None:
    """CREATE INDEX, CONCURRENTLY where possible (on each partition of a partitioned
    table: factory.schema.partitions.build_index)."""
    if concurrent_builds() and is_partitioned(model._definition):
        sql = str(index.create_sql(model, editor))
        partitions.build_index(editor, model._meta.db_table, index.name, sql)
        return
    editor.add_index(model, index, **_concurrently())


def add_unique_index(
    editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    name: str,
    fields: list[str],
) -> None:
    """A unique index built CONCURRENTLY where possible (a constraint cannot be), on each
    partition of a partitioned table."""
    # A partition's build is CONCURRENTLY, from the parent's statement (partitions).
    partitioned = concurrent_builds() and is_partitioned(model._definition)
    concurrently = concurrent_builds() and not partitioned
    prefix = "CREATE UNIQUE INDEX CONCURRENTLY" if concurrently else "CREATE UNIQUE INDEX"
    template = f"{prefix} %(name)s ON %(table)s%(using)s (%(columns)s)%(include)s%(condition)s"
    statement = editor._create_index_sql(
        model, fields=[model._meta.get_field(f) for f in fields], name=name, sql=template
    )
    if partitioned:
        partitions.build_index(editor, model._meta.db_table, name, str(statement))
        return
    editor.execute(statement, params=None)


def drop_index(editor: BaseDatabaseSchemaEditor, model: type[models.Model], name: str) -> None:
    table = model._meta.db_table
    if is_constraint(table, name):
        editor.execute(
            editor._delete_constraint_sql(editor.sql_delete_unique, model, name), params=None
        )
        return
    if concurrent_builds() and is_partitioned(model._definition):
        partitions.drop_index(editor, name)  # no concurrent form: a short lock, retried
        return
    editor.execute(editor._delete_index_sql(model, name, **_concurrently()), params=None)


def _concurrently() -> dict[str, bool]:
    return {"concurrently": True} if concurrent_builds() else {}


def table_file_node(table: str) -> int | None:
    """PostgreSQL's relfilenode: it changes when a table is rewritten."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relfilenode FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return row[0] if row else None


def rebuild_table(editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> None:
    """SQLite only: it cannot alter columns or constraints in place, so Django copies the
    table into one built from `model` (the embedded default holds small data sets). The
    copy has none of what the model does not declare: call `install_feed` afterwards."""
    editor._remake_table(model)


def column_exists(table: str, column: str) -> bool:
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    return any(col.name == column for col in description)
