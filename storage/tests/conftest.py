"""Fixtures of the records API tests: real storages, built through the factory service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from factory.schema import ddl
from factory.schema.names import table_name
from factory.tests.factories import dogs_definition


@pytest.fixture
def create_storage(create_storage):
    """The suite's fixture, plus clean-up after transactional tests: a flush empties
    Django's own tables but knows nothing of storage tables, so the next test could not
    create a storage of the same name. (Rolled-back tests lose their tables anyway.)"""
    names: list[str] = []

    def create(definition: dict[str, Any]):
        storage = create_storage(definition)
        names.append(storage.name)
        return storage

    yield create
    if connection.in_atomic_block:
        return
    with ddl.schema_transaction() as editor:
        for name in names:
            editor.execute(f"DROP TABLE IF EXISTS {editor.quote_name(table_name(name))}")


@pytest.fixture
def dogs(create_storage):
    """The README's dogs storage (serial key; every field type but float)."""
    return create_storage(dogs_definition())


@pytest.fixture
def add_dog(api_client, dogs) -> Callable[..., dict[str, Any]]:
    """Create one dog through the API; returns the stored record."""

    def add(**fields: Any) -> dict[str, Any]:
        body = {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z", **fields}
        response = api_client.post("/api/v1/storage/dogs/", body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return add


@pytest.fixture
def dog_count(dogs) -> Callable[[], int]:
    """How many dogs the table holds, read straight from the database."""
    from storage.runtime import runtime_for

    return lambda: runtime_for("dogs").model.objects.count()
