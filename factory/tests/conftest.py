"""Fixtures of the factory tests."""

from __future__ import annotations

import pytest

from factory.tests.tables import drop_storage_tables


@pytest.fixture(autouse=True)
def _drop_storage_tables_after_transactional_test(request, django_db_blocker):
    """Django's flush after a `transaction=True` test empties only its own tables: drop the
    storage tables the test made, so that the next test starts without them. That is every
    storage test on SQLite (see core.testing.storage_db) and, on PostgreSQL, the tests that
    need real commits (threads, CONCURRENTLY, other processes); the others roll back."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    with django_db_blocker.unblock():
        drop_storage_tables()
