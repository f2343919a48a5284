"""Fixtures of the ingest tests: the issue's animal scenario, built through the services."""

from __future__ import annotations

import pytest

from ingest.tests.animals import CATS, DOGS, definition


@pytest.fixture
def animals(create_storage):
    """The dogs and cats storages, each with the issue's kind of source."""
    create_storage(definition(DOGS))
    create_storage(definition(CATS))
