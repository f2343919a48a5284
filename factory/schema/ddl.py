"""The one caller of Django's schema editor: every CREATE/ALTER/DROP of a storage table.

Names come from validated definitions and are quoted by the schema editor; nothing here
formats SQL from user input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


@contextmanager
def schema_transaction() -> Iterator[BaseDatabaseSchemaEditor]:
    """One transaction for metadata writes and DDL together; yields the schema editor.

    PostgreSQL and SQLite both roll DDL back, so a failure leaves no half-made table.
    (SQLite's editor must open the transaction itself: it cannot start inside one.)
    """
    with connection.schema_editor(atomic=True) as editor:
        yield editor


def create_table(editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> None:
    """CREATE TABLE with its constraints and indexes (built at the end of the block)."""
    editor.create_model(model)


def drop_table(editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> None:
    editor.delete_model(model)


def table_exists(table: str) -> bool:
    with connection.cursor() as cursor:
        return table in connection.introspection.table_names(cursor)
