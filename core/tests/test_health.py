from unittest import mock

import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_database_ok(api_client):
    response = api_client.get("/api/v1/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "worker": "absent"}


def test_health_reports_the_worker_without_depending_on_it(api_client):
    from factory.services.workers import worker_heartbeat

    assert api_client.get("/api/v1/health/").json()["worker"] == "absent"  # never seen
    worker_heartbeat(worker_id="test-worker", host="here", pid=1)

    response = api_client.get("/api/v1/health/")

    assert response.status_code == 200
    assert response.json()["worker"] == "ok"


def test_health_answers_503_when_database_unreachable(api_client):
    with mock.patch("core.views.database_is_reachable", return_value=False):
        response = api_client.get("/api/v1/health/")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unavailable",
        "worker": "unknown",
    }
    assert response["Retry-After"] == "2"


def test_liveness_answers_200_without_database(api_client):
    with mock.patch("core.views.database_is_reachable", side_effect=AssertionError):
        response = api_client.get("/api/v1/health/live/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
