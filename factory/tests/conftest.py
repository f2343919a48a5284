"""Fixtures of the factory tests."""

from __future__ import annotations

import pytest

from core.testing import on_postgresql
from factory.tests.tables import drop_storage_tables


@pytest.fixture(autouse=True)
def _drop_storage_tables_after_transactional_test(request, django_db_blocker):
    """On SQLite, storage tests run transactionally and Django's flush empties only its own
    tables: drop the storage tables a test made, so that the next one starts without them.
    (On PostgreSQL the test's transaction rolls them back.)"""
    yield
    marker = request.node.get_closest_marker("django_db")
    if on_postgresql() or marker is None or not marker.kwargs.get("transaction"):
        return
    with django_db_blocker.unblock():
        drop_storage_tables()
