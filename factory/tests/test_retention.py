"""The `retention` block of a definition: validated at definition time, shown with the
definition and in ready_status, and versioned as a compatible change that needs no DDL."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.testing import storage_db
from factory.models import StorageDefinition
from factory.schema.retention import parse_keep
from factory.tests.tables import storage_tables

STORAGES = "/api/v1/factory/storage/"
READINGS_URL = STORAGES + "readings/"
INVALID = "The storage definition is invalid; see errors."
DDL_VERBS = ("ALTER", "CREATE", "DROP")
FIELDS = [
    {"name": "sensor", "type": "text", "required": True},
    {"name": "value", "type": "float"},
    {"name": "taken_at", "type": "datetime"},
    {"name": "day", "type": "date"},
]
NOT_DAYS = "is not an ISO 8601 duration of weeks (P2W) or of days and hours, minutes, seconds"
CALENDAR = "counts months or years, whose length depends on the calendar"


def readings(retention: Any = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"name": "readings", "fields": copy.deepcopy(FIELDS)}
    if retention is not None:
        definition["retention"] = retention
    return definition


@pytest.mark.parametrize(
    ("keep", "span"),
    [
        ("P90D", timedelta(days=90)),
        ("PT12H", timedelta(hours=12)),
        ("P2W", timedelta(weeks=2)),
        ("P1DT6H30M", timedelta(days=1, hours=6, minutes=30)),
        ("PT90S", timedelta(seconds=90)),
        ("PT1M", timedelta(minutes=1)),
    ],
)
def test_keep_takes_weeks_or_days_and_time(keep, span):
    assert parse_keep(keep) == span


@pytest.mark.parametrize(
    ("keep", "problem"),
    [
        ("P1M", f"'P1M' {CALENDAR}"),
        ("P1Y", f"'P1Y' {CALENDAR}"),
        ("P1Y2M3D", f"'P1Y2M3D' {CALENDAR}"),
        ("90 days", f"'90 days' {NOT_DAYS}"),
        ("P", f"'P' {NOT_DAYS}"),
        ("PT", f"'PT' {NOT_DAYS}"),
        ("P1DT", f"'P1DT' {NOT_DAYS}"),
        ("p90d", f"'p90d' {NOT_DAYS}"),
        ("P1.5D", f"'P1.5D' {NOT_DAYS}"),
        ("-P1D", f"'-P1D' {NOT_DAYS}"),
        ("P" + "9" * 400 + "D", f"'P{'9' * 400}D' {NOT_DAYS}"),
        ("PT99999999999S", "must be at most 100 years (P36600D)"),
        ("P0D", "must be longer than zero"),
        ("P99999W", "must be at most 100 years (P36600D)"),
        (90, "must be an ISO 8601 duration string such as 'P90D' or 'PT12H'"),
    ],
)
def test_keep_refuses_anything_else_saying_why(keep, problem):
    with pytest.raises(ValueError, match="^" + re.escape(problem)):
        parse_keep(keep)


INVALID_RETENTIONS = [
    (
        {"field": "sensor", "keep": "P90D"},
        {
            "retention.field": [
                "'sensor' is of type text; retention takes a date or datetime field."
            ]
        },
    ),
    ({"field": "nope", "keep": "P90D"}, {"retention.field": ["Unknown field 'nope'."]}),
    (
        {"field": "_version", "keep": "P1D"},
        {
            "retention.field": [
                "'_version' is of type integer; retention takes a date or datetime field."
            ]
        },
    ),
    (
        {"field": "taken_at", "keep": "P3M"},
        {"retention.keep": [f"'P3M' {CALENDAR}; give days or weeks instead (P90D, P13W)"]},
    ),
    (
        {"field": "taken_at", "keep": "soon", "every": "P1D"},
        {
            "retention.every": ["unknown key"],
            "retention.keep": [f"'soon' {NOT_DAYS} (P90D, PT12H, P1DT6H)"],
        },
    ),
    (
        {},
        {
            "retention.field": ["This field is required."],
            "retention.keep": ["This field is required."],
        },
    ),
    ("P90D", {"retention": ["must be an object with 'field' and 'keep'"]}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("retention", "errors"), INVALID_RETENTIONS)
def test_an_invalid_retention_answers_400_naming_each_problem_and_creates_nothing(
    api_client, retention, errors
):
    response = api_client.post(STORAGES, readings(retention), format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": INVALID,
        "errors": errors,
    }
    assert StorageDefinition.objects.count() == 0
    assert storage_tables() == set()


@storage_db
@pytest.mark.parametrize("field", ["taken_at", "day", "_created_at", "_updated_at"])
def test_a_storage_with_retention_shows_it_and_no_run_yet(api_client, field):
    rule = {"field": field, "keep": "P90D"}

    created = api_client.post(STORAGES, readings(rule), format="json")
    status = api_client.get("/api/v1/factory/ready_status/readings/").json()

    assert created.status_code == 201, created.json()
    assert created.json()["retention"] == rule
    assert api_client.get(READINGS_URL).json()["retention"] == rule
    assert status["retention"] == {
        **rule,
        "last_run_at": None,
        "removed": None,
        "oldest_kept": None,
        "error": None,
    }


@storage_db
def test_a_storage_without_retention_shows_null(api_client):
    assert api_client.post(STORAGES, readings(), format="json").status_code == 201

    assert api_client.get(READINGS_URL).json()["retention"] is None
    assert api_client.get("/api/v1/factory/ready_status/readings/").json()["retention"] is None


def put(api_client, definition: Any, version: int):
    return api_client.put(READINGS_URL, definition, format="json", HTTP_IF_MATCH=f'"{version}"')


@storage_db
def test_adding_changing_and_removing_retention_are_versions_without_ddl(api_client):
    assert api_client.post(STORAGES, readings(), format="json").status_code == 201
    first = {"field": "taken_at", "keep": "P90D"}
    second = {"field": "day", "keep": "P2W"}

    with CaptureQueriesContext(connection) as queries:
        added = put(api_client, readings(first), 1)
        changed = put(api_client, readings(second), 2)
        removed = put(api_client, readings(), 3)

    ddl = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith(DDL_VERBS)]
    assert ddl == []
    for response, version in ((added, 2), (changed, 3), (removed, 4)):
        assert response.status_code == 200, response.json()
        assert (response.json()["version"], response.json()["status"]) == (version, "ready")
    assert added.json()["changes"] == [{"op": "change_retention", "retention": [None, first]}]
    assert changed.json()["changes"] == [{"op": "change_retention", "retention": [first, second]}]
    assert removed.json()["retention"] is None
    ready = api_client.get("/api/v1/factory/ready_status/readings/").json()
    assert (ready["serving_version"], ready["ready"]) == (4, True)


@storage_db
def test_an_invalid_retention_in_a_new_version_answers_400_and_keeps_the_version(api_client):
    assert api_client.post(STORAGES, readings(), format="json").status_code == 201

    response = put(api_client, readings({"field": "value", "keep": "P1D"}), 1)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "retention.field": ["'value' is of type float; retention takes a date or datetime field."]
    }
    assert StorageDefinition.objects.get(name="readings").version == 1
