import json
import logging
from unittest import mock

import pytest

from core.problems import flatten_errors

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def test_unknown_url_answers_404_problem(client):
    response = client.get("/api/v1/nowhere/")

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No resource at /api/v1/nowhere/.",
    }


def test_wrong_method_answers_405_problem(client):
    response = client.delete("/api/v1/health/")

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"] == "method-not-allowed"
    assert response.json()["status"] == 405


def test_flatten_errors_builds_dotted_paths():
    nested = {"fields": [{}, {}, {"type": ["unknown type"]}], "name": ["required"]}

    assert flatten_errors(nested) == {"fields.2.type": ["unknown type"], "name": ["required"]}


def test_flatten_errors_keeps_top_level_non_field_errors():
    assert flatten_errors({"non_field_errors": ["bad"]}) == {"non_field_errors": ["bad"]}
    assert flatten_errors(["bad"]) == {"non_field_errors": ["bad"]}


def test_request_id_is_returned_and_logged(client, caplog):
    with caplog.at_level(logging.INFO, logger="datastorage.request"):
        response = client.get("/api/v1/health/", HTTP_X_REQUEST_ID="abc-123")

    assert response["X-Request-ID"] == "abc-123"
    record = next(r for r in caplog.records if r.name == "datastorage.request")
    assert (record.method, record.path, record.status, record.request_id) == (
        "GET",
        "/api/v1/health/",
        200,
        "abc-123",
    )
    assert record.duration_ms >= 0


def test_unprintable_request_id_is_replaced(client):
    response = client.get("/api/v1/health/", HTTP_X_REQUEST_ID="a b\x01")

    assert response["X-Request-ID"] != "a b\x01"
    assert len(response["X-Request-ID"]) == 32


def test_log_lines_are_json(capsys):
    from core.logging import JSONFormatter

    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO", "request_id": "r1"})
    line = JSONFormatter().format(record)

    assert json.loads(line)["request_id"] == "r1"
    assert json.loads(line)["message"] == "hello"


def test_unexpected_exception_answers_500_problem_without_trace(client, caplog):
    with mock.patch("core.views.LivenessView.get", side_effect=RuntimeError("boom secret")):
        client.raise_request_exception = False
        response = client.get("/api/v1/health/live/", HTTP_X_REQUEST_ID="req-500")

    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"] == "internal-error"
    assert body["request_id"] == "req-500"
    assert "boom secret" not in response.content.decode()
    assert any(getattr(r, "request_id", None) == "req-500" for r in caplog.records)


def test_body_over_the_limit_answers_413(client, settings):
    settings.MAX_REQUEST_BYTES = 10

    response = client.post("/api/v1/health/", data=b"x" * 11, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["type"] == "payload-too-large"
