"""Who may scrape GET /api/v1/metrics: admin tokens and METRICS_TOKEN, nobody else."""

from __future__ import annotations

import pytest

from access.services import token_issue

pytestmark = pytest.mark.django_db

URL = "/api/v1/metrics"
PROBLEM = "application/problem+json"


def test_an_admin_token_scrapes_the_text_format(api_client):
    response = api_client.get(URL, HTTP_ACCEPT="text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"# TYPE datastorage_http_requests_total counter" in response.content


def test_anonymous_scrapes_are_refused_401(anonymous_client):
    response = anonymous_client.get(URL)
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == 'Bearer realm="datastorage"'
    assert response.json()["type"] == "not-authenticated"


def test_a_client_token_is_refused_403(anonymous_client):
    secret = token_issue(name="reader", admin=False).secret
    response = anonymous_client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "permission-denied",
        "title": "Permission denied",
        "status": 403,
        "detail": "The metrics need an admin token or METRICS_TOKEN.",
    }


def test_metrics_token_scrapes_and_opens_nothing_else(anonymous_client, settings):
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    bearer = {"HTTP_AUTHORIZATION": "Bearer scrape-secret-0123456789"}
    assert anonymous_client.get(URL, **bearer).status_code == 200
    assert anonymous_client.get("/api/v1/factory/storage/", **bearer).status_code == 401
    wrong = anonymous_client.get(URL, HTTP_AUTHORIZATION="Bearer scrape-secret-wrong")
    assert wrong.status_code == 401


def test_without_metrics_token_no_bearer_matches_it(anonymous_client, settings):
    settings.METRICS_TOKEN = ""
    assert anonymous_client.get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 401
