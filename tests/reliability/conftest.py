"""Fixtures of the reliability tests: processes, storages they can see, PostgreSQL control.

Every test here is transactional (the server processes must see what the test creates),
so the storage tables it creates are dropped at its end: a flush empties Django's tables
only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from factory.schema import ddl
from factory.schema.names import table_name
from tests.reliability.support import PostgresControl, Processes, session_database_url


@pytest.fixture
def processes(transactional_db) -> Iterator[Processes]:
    """Start servers and workers with `processes.spawn()`; all are stopped at the end."""
    env = {
        **os.environ,
        "DATABASE_URL": session_database_url(),
        "TASK_BACKEND": "django_tasks_db.DatabaseBackend",
    }
    env.setdefault("SECRET_KEY", "reliability-test-key")
    with tempfile.TemporaryDirectory(prefix="datastorage-reliability-") as logs:
        running = Processes(Path(logs), env)
        try:
            yield running
        finally:
            running.stop_all()


@pytest.fixture
def postgres() -> Iterator[PostgresControl]:
    """Stop and start the server; it is running again when the test ends, whatever
    happened, and this process's connections are fresh."""
    control = PostgresControl()
    yield control
    if not _answers():
        control.start()
    reset_connections()


def reset_connections() -> None:
    """After a restart every pooled connection of this process is dead: drop them all."""
    connections.close_all()
    connection.close_pool()


def _answers() -> bool:
    from tests.reliability.support import connect

    try:
        connect().close()
    except Exception:  # noqa: BLE001 - any failure means the server is down
        return False
    return True


@pytest.fixture
def make_storage(transactional_db) -> Iterator[Callable[[dict[str, Any]], Any]]:
    """Create storages through the service (as the API does); drop their tables after."""
    from factory.services.storages import storage_create

    names: list[str] = []

    def create(definition: dict[str, Any]) -> Any:
        storage = storage_create(data=definition)
        names.append(storage.name)
        return storage

    yield create
    if names:
        with ddl.schema_transaction() as editor:
            for name in names:
                editor.execute(f"DROP TABLE IF EXISTS {editor.quote_name(table_name(name))}")
