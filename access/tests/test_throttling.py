"""Per-token rate limits: off unless THROTTLE_RATE is set; admin tokens never throttled."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from access.services import token_issue
from access.tests.conftest import bearer

pytestmark = pytest.mark.django_db

STORAGES = "/api/v1/factory/storage/"


@pytest.fixture(autouse=True)
def _fresh_counters():
    # The counters live in Django's cache, which outlives a test.
    cache.clear()
    yield
    cache.clear()


def test_client_token_over_the_rate_gets_429_with_retry_after(settings):
    settings.THROTTLE_RATE = "3/min"
    client = bearer(token_issue(name="pipeline").secret)

    allowed = [client.get(STORAGES).status_code for _ in range(3)]
    refused = client.get(STORAGES)

    assert allowed == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert 1 <= int(refused["Retry-After"]) <= 61
    body = refused.json()
    assert {key: body[key] for key in ("type", "title", "status")} == {
        "type": "throttled",
        "title": "Too many requests",
        "status": 429,
    }
    assert body["detail"].startswith("Request was throttled.")


def test_each_client_token_has_its_own_counter(settings):
    settings.THROTTLE_RATE = "3/min"
    first = bearer(token_issue(name="first").secret)
    second = bearer(token_issue(name="second").secret)

    for _ in range(3):
        first.get(STORAGES)

    assert first.get(STORAGES).status_code == 429
    assert second.get(STORAGES).status_code == 200


def test_admin_token_is_never_throttled(settings, api_client):
    settings.THROTTLE_RATE = "3/min"

    assert [api_client.get(STORAGES).status_code for _ in range(10)] == [200] * 10


def test_no_rate_limit_unless_configured(settings):
    settings.THROTTLE_RATE = ""
    client = bearer(token_issue(name="pipeline").secret)

    assert [client.get(STORAGES).status_code for _ in range(10)] == [200] * 10
