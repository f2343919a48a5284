"""Bearer tokens: who gets in (a live token) and who is refused, always 401 with a challenge."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from access.services import token_issue, token_revoke
from access.tests.conftest import bearer

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
CHALLENGE = 'Bearer realm="datastorage"'
STORAGES = "/api/v1/factory/storage/"

NOT_PROVIDED = {
    "type": "not-authenticated",
    "title": "Authentication required",
    "status": 401,
    "detail": "Authentication credentials were not provided.",
}
MALFORMED = {
    "type": "not-authenticated",
    "title": "Authentication failed",
    "status": 401,
    "detail": "Send `Authorization: Bearer <token>`.",
}
REFUSED = {
    "type": "not-authenticated",
    "title": "Authentication failed",
    "status": 401,
    "detail": "The token is invalid, expired or revoked.",
}


def assert_401(response, body: dict) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json() == body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/storage/dogs/"),
        ("post", "/api/v1/storage/dogs/"),
        ("get", "/api/v1/storage/dogs/1/"),
        ("delete", "/api/v1/storage/dogs/1/"),
        ("get", "/api/v1/factory/storage/"),
        ("post", "/api/v1/factory/storage/"),
        ("get", "/api/v1/factory/storage/dogs/"),
        ("put", "/api/v1/factory/storage/dogs/"),
        ("delete", "/api/v1/factory/storage/dogs/"),
        ("get", "/api/v1/factory/storage/dogs/versions/"),
        ("get", "/api/v1/factory/storage/dogs/schema/"),
        ("get", "/api/v1/factory/ready_status/dogs/"),
        ("get", "/api/v1/auth/tokens/"),
        ("post", "/api/v1/auth/tokens/"),
        ("delete", "/api/v1/auth/tokens/1/"),
    ],
)
def test_anonymous_request_answers_401_with_a_bearer_challenge(anonymous_client, method, path):
    response = getattr(anonymous_client, method)(path, {}, format="json")

    assert_401(response, NOT_PROVIDED)


@pytest.mark.parametrize("path", ["/api/v1/health/", "/api/v1/health/live/"])
def test_health_stays_open_without_a_token_and_with_a_bad_one(anonymous_client, path):
    anonymous = anonymous_client.get(path)
    anonymous_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    with_bad_token = anonymous_client.get(path)

    assert anonymous.status_code == 200
    assert with_bad_token.status_code == 200
    assert anonymous.json()["status"] == "ok"


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNzd29yZA==",
        "Token abc",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Bearer\tdst_abc",
        "Bearer " + "x" * 201,
    ],
)
def test_malformed_authorization_answers_401(anonymous_client, header):
    anonymous_client.credentials(HTTP_AUTHORIZATION=header)

    assert_401(anonymous_client.get(STORAGES), MALFORMED)


@pytest.mark.parametrize(
    "secret", ["dst_unknown", "' OR '1'='1", "dst_" + "A" * 43, "ü-not-ascii", "a\u0000b"]
)
def test_unknown_token_answers_401(secret):
    assert_401(bearer(secret).get(STORAGES), REFUSED)


def test_live_token_is_let_in_whatever_the_case_of_the_scheme(anonymous_client):
    secret = token_issue(name="pipeline").secret
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"bearer {secret}")

    assert bearer(secret).get(STORAGES).status_code == 200
    assert anonymous_client.get(STORAGES).status_code == 200


def test_expired_token_answers_401_and_one_not_yet_expired_is_let_in():
    now = timezone.now()
    expired = token_issue(name="old", expires_at=now - datetime.timedelta(seconds=1))
    live = token_issue(name="new", expires_at=now + datetime.timedelta(hours=1))

    assert_401(bearer(expired.secret).get(STORAGES), REFUSED)
    assert bearer(live.secret).get(STORAGES).status_code == 200


def test_revoked_token_answers_401():
    issued = token_issue(name="pipeline")
    token_revoke(token_id=issued.token.id)

    assert_401(bearer(issued.secret).get(STORAGES), REFUSED)


def test_revoking_over_the_api_takes_effect_on_the_next_request(api_client):
    issued = token_issue(name="pipeline")
    client = bearer(issued.secret)
    before = client.get(STORAGES)

    revoked = api_client.delete(f"/api/v1/auth/tokens/{issued.token.id}/")
    after = client.get(STORAGES)

    assert before.status_code == 200
    assert revoked.status_code == 204
    assert_401(after, REFUSED)
