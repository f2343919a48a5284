"""Helpers shared by the test suites of every app (imported by tests only)."""

from __future__ import annotations

import os

import pytest


def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


# For tests that create storage tables. PostgreSQL runs them in the usual rolled-back
# transaction (its DDL is transactional); SQLite's schema editor cannot open its own
# transaction inside the test's, so there they run transactionally (tables flushed/dropped).
storage_db = pytest.mark.django_db(transaction=not on_postgresql())
