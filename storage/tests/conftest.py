"""Fixtures of the records API tests: real storages, built through the factory service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from factory.tests.factories import dogs_definition


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
