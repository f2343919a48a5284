"""What the database says about storage tables: Django's introspection, in test-sized bites."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from factory.models import StorageDefinition
from factory.schema import feed, names, record_versions
from factory.schema.builder import build_model


def table_names() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def storage_tables() -> set[str]:
    return {name for name in table_names() if name.startswith(names.TABLE_PREFIX)}


def table_exists(table: str) -> bool:
    return table in table_names()


def drop_storage_tables() -> None:
    """Storage tables, and SQLite's version counters (PostgreSQL's go with their tables)."""
    counters = {name for name in table_names() if name.startswith("dsv_")}
    with connection.cursor() as cursor:
        for table in storage_tables() | counters:
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")


def description(table: str) -> dict[str, Any]:
    """Column name -> Django's FieldInfo for it."""
    with connection.cursor() as cursor:
        return {c.name: c for c in connection.introspection.get_table_description(cursor, table)}


def columns(table: str) -> dict[str, tuple[str, bool]]:
    """Column name -> (the Django field type introspection reads back, nullable), for the
    columns of the model (not the change feed's `_txid`, factory.schema.feed)."""
    return {
        name: (connection.introspection.get_field_type(info.type_code, info), info.null_ok)
        for name, info in description(table).items()
        if name != feed.TXID
    }


def triggers(table: str) -> list[str]:
    """The names of the table's triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [table],
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table]
            )
        return sorted(name for (name,) in cursor.fetchall())


def constraints(table: str) -> dict[str, dict[str, Any]]:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def primary_key(table: str) -> list[str]:
    (columns_,) = [c["columns"] for c in constraints(table).values() if c["primary_key"]]
    return columns_


def indexes(table: str) -> set[tuple[str, tuple[str, ...]]]:
    """(kind, columns) of every index and unique constraint but the primary key and the
    change feed's; kind is "unique" or the access method (btree, hash, gin, brin)."""
    found = set()
    for name, spec in constraints(table).items():
        if spec["primary_key"] or spec["check"] or name == feed.position_index(table):
            continue
        if spec["unique"]:
            found.add(("unique", tuple(spec["columns"])))
        elif spec["index"]:
            method = "btree" if spec["type"] == "idx" else spec["type"]
            found.add((method, tuple(spec["columns"])))
    return found


def index_names(table: str) -> set[str]:
    return {
        name
        for name, spec in constraints(table).items()
        if not spec["primary_key"]
        and not spec["check"]
        and (spec["unique"] or spec["index"])
        and name != feed.position_index(table)
    }


def checks(table: str) -> dict[str, int]:
    """Column -> how many of the storage's own CHECK constraints (min/max/choices) it has."""
    counts: dict[str, int] = {}
    for name, spec in constraints(table).items():
        if spec["check"] and name.startswith("dsc_"):
            for column in spec["columns"]:
                counts[column] = counts.get(column, 0) + 1
    return counts


def model_of(storage: StorageDefinition) -> type[models.Model]:
    version = storage.versions.get(number=storage.version)
    return build_model(storage_id=storage.id, version=version.number, definition=version.definition)


def insert(model: type[models.Model], **values: Any) -> models.Model:
    """Write one row straight through the model (no API): the database's rules alone apply.
    Runs in its own savepoint, so that a refused row leaves the test's transaction usable."""
    now = timezone.now()
    values = {"_created_at": now, "_updated_at": now, **values}
    with transaction.atomic():
        if record_versions.next_version_sql(model._meta.db_table) is None:
            # SQLite: no column default can draw from the counter; the writer draws
            # (as storage.services does), so the row gets its version like any other.
            values.setdefault("_version", record_versions.take(model._meta.db_table, 1)[0])
        return model._default_manager.create(**values)


def a_datetime() -> datetime.datetime:
    return datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC)
