"""Fixtures of the contract tests."""

from __future__ import annotations

import pytest

from factory.tests.tables import drop_storage_tables


@pytest.fixture(autouse=True)
def _drop_storage_tables_after_transactional_test(request, django_db_blocker):
    """A flush after a `transaction=True` test (every storage test on SQLite) empties only
    Django's own tables: drop the storage tables too, so the next test can create them."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    with django_db_blocker.unblock():
        drop_storage_tables()
