"""The change feed's side of a storage table: what gives every write its feed position and
leaves a tombstone for every delete, in the database, for every way of writing.

A position is (transaction, sequence):
- PostgreSQL: `_txid`, a column the model does not know, is the writing transaction's id
  (its default on INSERT, COPY included; a trigger sets it on an UPDATE that changes
  `_version`, so only real changes move a record). The sequence is the record's
  `_version`, drawn from the table's counter (record_versions), unique within a storage
  for records written since that counter exists. The feed serves only positions whose
  transaction is below the reading snapshot's xmin: every transaction that could still
  commit a lower position has ended (storage.changes).
- SQLite serialises writers and draws `_version` in the writer's transaction, so the
  version alone orders commits: the transaction part is always 0, and no column is added.

A statement that deletes rows leaves one tombstone per record in `factory_feedtombstone`
(storage, key as text, the deleted `_version`, and a position of its own: the deleting
transaction and a fresh number of the table's counter), by a statement trigger with a
transition table on PostgreSQL, a row trigger on SQLite. A write also wakes the feed's
long-polls (storage.waiting) when one waits on its storage, by NOTIFY on PostgreSQL.

Names come from validated definitions and are quoted here; nothing comes from a request.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, models, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import sql

from factory.schema import distribution, names

TXID = "_txid"
CHANNEL = "datastorage_feed"
TOMBSTONES = "factory_feedtombstone"
WAITERS = "factory_feedwaiter"
_CURRENT_TXID = "(pg_current_xact_id()::text::bigint)"
# The tombstone key of a retention run's mark (`write_removed`): a serial key's text, the
# only keys of the storages whose partitions are dropped, is never this.
REMOVED_KEY = "_removed"

# PostgreSQL functions every storage table's triggers call (migration 0004 creates them),
# one statement each.
FUNCTIONS = [
    f"""
CREATE OR REPLACE FUNCTION factory_feed_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.{TXID} := {_CURRENT_TXID};
    RETURN NEW;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION factory_feed_tombstones() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV: storage id, key column, the table's version counter.
    EXECUTE format(
        'INSERT INTO {TOMBSTONES} (storage_id, key, version, txid, seq, deleted_at) '
        'SELECT $1, gone.%I::text, gone._version, {_CURRENT_TXID}, nextval(%L::regclass), '
        'now() FROM gone ON CONFLICT (storage_id, key) DO UPDATE SET '
        'version = EXCLUDED.version, txid = EXCLUDED.txid, seq = EXCLUDED.seq, '
        'deleted_at = EXCLUDED.deleted_at',
        TG_ARGV[1], TG_ARGV[2]
    ) USING TG_ARGV[0]::bigint;
    RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION factory_feed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only when a long-poll waits on this storage: NOTIFY serialises the commits of every
    -- transaction that sent one, a cost no writer should pay for nobody.
    IF EXISTS (SELECT 1 FROM {WAITERS} WHERE storage_id = TG_ARGV[0]::bigint
               AND until > now()) THEN
        PERFORM pg_notify('{CHANNEL}', TG_ARGV[0]);
    END IF;
    RETURN NULL;
END $$""",
]

DROP_FUNCTIONS = [
    f"DROP FUNCTION IF EXISTS {function}()"
    for function in ("factory_feed_stamp", "factory_feed_tombstones", "factory_feed_notify")
]


def write_removed(cursor: Any, storage_id: int, table: str, removed: dict[str, Any]) -> None:
    """The feed's mark that records were removed wholesale (partitions dropped: no row
    trigger fired), {"field": ..., "before": ...}, at a position of the writing
    transaction like any tombstone; one per storage, replaced by each later mark (whose
    `before` is later: it says all the earlier one did)."""
    cursor.execute(
        f"INSERT INTO {TOMBSTONES} (storage_id, key, version, txid, seq, deleted_at, removed) "
        f"VALUES (%s, %s, 0, {_CURRENT_TXID}, nextval(%s::regclass), now(), %s::jsonb) "
        "ON CONFLICT (storage_id, key) DO UPDATE SET txid = EXCLUDED.txid, seq = EXCLUDED.seq, "
        "deleted_at = EXCLUDED.deleted_at, removed = EXCLUDED.removed",
        [storage_id, REMOVED_KEY, names.version_counter(table), json.dumps(removed)],
    )


def position_index(table: str) -> str:
    return names.object_name("dsf", table, "position")


def install(
    editor: BaseDatabaseSchemaEditor,
    table: str,
    key_column: str,
    storage_id: int,
    *,
    triggers: bool = True,
) -> None:
    """Everything but the position index (see `build_index`); idempotent. On PostgreSQL
    each statement is metadata only (a constant default, then a default for new rows):
    no rewrite of the table, and writers wait only for the moment of each lock.

    Without `triggers` (a table about to be distributed: see the section below), only the
    `_txid` column and its default, which Citus evaluates on the coordinator."""
    quote = editor.quote_name
    quoted = quote(table)
    if connection.vendor != "postgresql":
        _install_sqlite(editor, table, key_column, storage_id)
        return
    txid = quote(TXID)
    editor.execute(
        f"ALTER TABLE {quoted} ADD COLUMN IF NOT EXISTS {txid} bigint NOT NULL DEFAULT 0", None
    )
    editor.execute(f"ALTER TABLE {quoted} ALTER COLUMN {txid} SET DEFAULT {_CURRENT_TXID}", None)
    if not triggers:
        return
    version = quote("_version")
    counter = names.version_counter(table)
    editor.execute(
        f"CREATE OR REPLACE TRIGGER {quote(_trigger(table, 'stamp'))} BEFORE UPDATE ON {quoted} "
        f"FOR EACH ROW WHEN (NEW.{version} IS DISTINCT FROM OLD.{version}) "
        "EXECUTE FUNCTION factory_feed_stamp()",
        None,
    )
    editor.execute(
        f"CREATE OR REPLACE TRIGGER {quote(_trigger(table, 'delete'))} AFTER DELETE ON {quoted} "
        "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION "
        f"factory_feed_tombstones('{int(storage_id)}', '{_literal(key_column)}', "
        f"'{_literal(counter)}')",
        None,
    )
    editor.execute(
        f"CREATE OR REPLACE TRIGGER {quote(_trigger(table, 'notify'))} "
        f"AFTER INSERT OR UPDATE OR DELETE ON {quoted} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION factory_feed_notify('{int(storage_id)}')",
        None,
    )


def _install_sqlite(
    editor: BaseDatabaseSchemaEditor, table: str, key_column: str, storage_id: int
) -> None:
    quote = editor.quote_name
    counter = quote(names.version_counter(table))
    trigger = quote(_trigger(table, "delete"))
    editor.execute(f"DROP TRIGGER IF EXISTS {trigger}", None)
    editor.execute(
        f"CREATE TRIGGER {trigger} AFTER DELETE ON {quote(table)} FOR EACH ROW BEGIN "
        f"UPDATE {counter} SET value = value + 1; "
        f"INSERT OR REPLACE INTO {TOMBSTONES} (storage_id, key, version, txid, seq, deleted_at) "
        f"VALUES ({int(storage_id)}, CAST(OLD.{quote(key_column)} AS TEXT), OLD._version, 0, "
        f"(SELECT value FROM {counter}), strftime('%Y-%m-%d %H:%M:%f', 'now')); END",
        None,
    )


def build_index(editor: BaseDatabaseSchemaEditor, table: str, key_column: str) -> None:
    """The index the feed reads in position order; CONCURRENTLY when outside a
    transaction (an existing table being upgraded), else within the caller's."""
    postgresql = connection.vendor == "postgresql"
    concurrently = " CONCURRENTLY" if postgresql and not connection.in_atomic_block else ""
    sql = index_sql(editor, table, key_column)
    editor.execute(sql.replace("CREATE INDEX", f"CREATE INDEX{concurrently} IF NOT EXISTS"), None)


def index_sql(editor: BaseDatabaseSchemaEditor, table: str, key_column: str) -> str:
    """CREATE INDEX of the position index, plain (built online by the caller's means)."""
    quote = editor.quote_name
    txid = f"{quote(TXID)}, " if connection.vendor == "postgresql" else ""
    return (
        f"CREATE INDEX {quote(position_index(table))} "
        f"ON {quote(table)} ({txid}{quote('_version')}, {quote(key_column)})"
    )


def uninstall(editor: BaseDatabaseSchemaEditor, table: str) -> None:
    """Undo `install` and `build_index` (migration 0004 taken back)."""
    quote = editor.quote_name
    postgresql = connection.vendor == "postgresql"
    for what in ("stamp", "delete", "notify") if postgresql else ("delete",):
        on = f" ON {quote(table)}" if postgresql else ""
        editor.execute(f"DROP TRIGGER IF EXISTS {quote(_trigger(table, what))}{on}", None)
    editor.execute(f"DROP INDEX IF EXISTS {quote(position_index(table))}", None)
    if postgresql:
        editor.execute(f"ALTER TABLE {quote(table)} DROP COLUMN IF EXISTS {quote(TXID)}", None)


def _trigger(table: str, what: str) -> str:
    return names.object_name("dst", table, what)


def _literal(value: str) -> str:
    # Identifiers that passed factory.schema.names (lower-case letters, digits, _).
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not an identifier: {value!r}")
    return value


# --- Distributed tables (factory.schema.distribution) -------------------------------------
# A distributed table's triggers would run on the workers, whose transaction ids are not
# the coordinator's, and could not reach the tombstone table, which lives on the
# coordinator. So the service writes there what the triggers write elsewhere: an UPDATE
# sets `_txid` itself (Citus evaluates the stable function on the coordinator, as it does
# the column's default on INSERT and COPY), and a delete writes its tombstones from its
# RETURNING rows, in the same transaction. Long-polls find such writes by polling
# (storage.waiting looks again every second): nothing NOTIFYs for them.


def update_stamp(model: type[models.Model]) -> str | None:
    """The SET item an UPDATE of `model`'s table needs to move its rows in the feed; None
    where the table's trigger does it."""
    if not distribution.is_distributed(model._definition):  # type: ignore[attr-defined]
        return None
    return f"{connection.ops.quote_name(TXID)} = {_CURRENT_TXID}"


def upsert_stamp(model: type[models.Model]) -> str | None:
    """The DO UPDATE SET item of an upsert (INSERT ... ON CONFLICT) of `model`'s table: the
    proposed row's `_txid`, the coordinator's default (Citus runs DO UPDATE on the shards,
    and refuses any function there)."""
    if not distribution.is_distributed(model._definition):  # type: ignore[attr-defined]
        return None
    quoted = connection.ops.quote_name(TXID)
    return f"{quoted} = EXCLUDED.{quoted}"


def delete_rows(rows: models.QuerySet) -> int:
    """DELETE the rows of `rows` in one statement; returns how many went. A distributed
    table's tombstones are written here, in the caller's transaction (atomic when it has
    none); every other table's by its trigger."""
    model = rows.model
    if not distribution.is_distributed(model._definition):  # type: ignore[attr-defined]
        return rows._raw_delete(rows.db) or 0  # None: an empty queryset, no statement
    try:
        statement, params = rows.query.chain(sql.DeleteQuery).get_compiler(rows.db).as_sql()
    except EmptyResultSet:  # a queryset that matches nothing: no statement
        return 0
    quote = connection.ops.quote_name
    key, version = quote(model._meta.pk.column), quote("_version")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"{statement} RETURNING {key}::text, {version}", params)
        gone = cursor.fetchall()
        if gone:
            cursor.execute(_TOMBSTONES_FROM_ARRAYS, _tombstone_params(model, gone))
    return len(gone)


_TOMBSTONES_FROM_ARRAYS = (
    f"INSERT INTO {TOMBSTONES} (storage_id, key, version, txid, seq, deleted_at) "
    f"SELECT %s, gone.key, gone.version, {_CURRENT_TXID}, nextval(%s::regclass), now() "
    "FROM unnest(%s::text[], %s::bigint[]) AS gone (key, version) "
    "ON CONFLICT (storage_id, key) DO UPDATE SET version = EXCLUDED.version, "
    "txid = EXCLUDED.txid, seq = EXCLUDED.seq, deleted_at = EXCLUDED.deleted_at"
)


def _tombstone_params(model: type[models.Model], gone: list[tuple[str, int]]) -> list:
    counter = names.version_counter(model._meta.db_table)
    keys = [key for key, _ in gone]
    return [model._storage_id, counter, keys, [version for _, version in gone]]  # type: ignore[attr-defined]
