"""Fixtures of the hostile-input suite: a small world of storages, a snapshot of everything
a request could change, and the check that a refusal is a 4xx problem and changed nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from access.models import ApiToken, Grant
from factory.models import StorageDefinition, StorageVersion
from factory.schema.names import TABLE_PREFIX
from factory.services.storages import storage_create
from factory.tests.factories import dogs_definition
from factory.tests.tables import drop_storage_tables
from storage.runtime import runtime_for
from storage.services import record_create

PROBLEM = "application/problem+json"
DOG = {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z"}
CHIP = "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c10"

# Every key type, and a storage whose fields are all optional (so `{}` is a valid record:
# an empty or missing body must still be refused there).
WORLD = [
    dogs_definition(),
    {
        "name": "notes",
        "fields": [
            {"name": "note", "type": "text"},
            {"name": "n", "type": "integer"},
            {"name": "data", "type": "json"},
        ],
    },
    {
        "name": "tags",
        "primary_key": {"name": "code", "type": "text"},
        "fields": [{"name": "label", "type": "text"}],
    },
    {
        "name": "counters",
        "primary_key": {"name": "n", "type": "integer"},
        "fields": [{"name": "label", "type": "text"}],
    },
    {
        "name": "chips",
        "primary_key": {"name": "chip", "type": "uuid"},
        "fields": [{"name": "label", "type": "text"}],
    },
]
RECORDS = {
    "dogs": DOG,
    "notes": {"note": "first"},
    "tags": {"code": "a", "label": "first"},
    "counters": {"n": 1, "label": "first"},
    "chips": {"chip": CHIP, "label": "first"},
}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Five storages (serial, text, integer and uuid keys), one record in each, built once
    per module and committed: the cases, each in its own rolled-back transaction, are only
    refused, so they share it. (A module with `transaction=True` tests must not use it:
    their flush would empty its metadata.)"""
    with django_db_blocker.unblock():
        for definition in WORLD:
            storage_create(data=definition)
        for name, record in RECORDS.items():
            record_create(runtime=runtime_for(name), data=record)
    yield
    with django_db_blocker.unblock():
        StorageDefinition.objects.filter(name__in=RECORDS).delete()
        drop_storage_tables()


# The catalog's own description of every storage table: columns (type, nullability,
# default), indexes and constraints. (Django's introspection parses SQL on SQLite: too slow
# to run twice for each of hundreds of cases.)
_CATALOG = {
    "sqlite": "SELECT type, tbl_name, name, sql FROM sqlite_master "
    "WHERE tbl_name LIKE 'ds\\_%' ESCAPE '\\' ORDER BY 1, 2, 3",
    "postgresql": """
        SELECT 'column', table_name::text, column_name::text, concat_ws(' ', data_type,
               character_maximum_length, numeric_precision, numeric_scale, is_nullable,
               column_default)
          FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name LIKE 'ds\\_%'
        UNION ALL
        SELECT 'index', tablename::text, indexname::text, indexdef
          FROM pg_indexes
         WHERE schemaname = current_schema() AND tablename LIKE 'ds\\_%'
        UNION ALL
        SELECT 'constraint', conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
          FROM pg_constraint
         WHERE conrelid::regclass::text LIKE 'ds\\_%'
        ORDER BY 1, 2, 3
    """,
}


def snapshot() -> dict[str, Any]:
    """Every storage table (its schema and its rows) and every metadata row."""
    quote = connection.ops.quote_name
    rows: dict[str, list[tuple]] = {}
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for name in sorted(n for n in tables if n.startswith(TABLE_PREFIX)):
            cursor.execute(f"SELECT * FROM {quote(name)} ORDER BY 1")
            rows[name] = cursor.fetchall()
        cursor.execute(_CATALOG[connection.vendor])
        schema = cursor.fetchall()
    return {
        "schema": schema,
        "rows": rows,
        "definitions": list(StorageDefinition.objects.order_by("pk").values()),
        "versions": list(StorageVersion.objects.order_by("pk").values()),
        "tokens": list(ApiToken.objects.order_by("pk").values()),
        "grants": list(Grant.objects.order_by("pk").values()),
    }


def assert_problem(response, status: int, problem_type: str | None = None) -> dict[str, Any]:
    """A 4xx answered in the problem-details format; returns its body."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    assert all(isinstance(body[key], str) for key in ("type", "title", "detail"))
    if problem_type is not None:
        assert body["type"] == problem_type, body
    return body


def send(client, method: str, path: str, body: Any = None, **extra: Any):
    """Send `body` as given: bytes and str verbatim, anything else as JSON."""
    content_type = extra.pop("content_type", "application/json")
    if body is None:
        data: bytes | str = b""
    elif isinstance(body, bytes | str):
        data = body
    else:
        data = json.dumps(body)
    return client.generic(method, path, data, content_type=content_type, **extra)


@pytest.fixture(scope="module")
def _client() -> APIClient:
    # One client per module: each new one loads the middleware again, and WhiteNoise's
    # scan of the static files costs more than most cases.
    return APIClient()


@pytest.fixture
def api_client(_client: APIClient, admin_token: str) -> Iterator[APIClient]:
    """The suite's admin client, on the module's shared client."""
    _client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    yield _client
    _client.credentials()


@pytest.fixture
def anonymous_client(_client: APIClient) -> APIClient:
    _client.credentials()
    return _client


@pytest.fixture
def refused(api_client):
    """`refused(method, path, body, status, type, **extra)`: sends the request (as the admin
    unless `client=` is given), checks the 4xx problem, and that nothing changed."""

    def check(
        method: str,
        path: str,
        body: Any,
        status: int,
        problem_type: str | None = None,
        *,
        client: Any = None,
        **extra: Any,
    ) -> dict[str, Any]:
        before = snapshot()
        assert any(before["rows"].values()), "no storage records for the case to harm"
        response = send(client or api_client, method, path, body, **extra)
        problem = assert_problem(response, status, problem_type)
        assert snapshot() == before
        return problem

    return check
