"""/api/v1/auth/tokens/: admins issue (the secret shown once), list and revoke tokens."""

from __future__ import annotations

import hashlib
from unittest.mock import ANY

import pytest

from access.models import ApiToken, Grant
from access.tests.conftest import bearer
from core.testing import storage_db

pytestmark = [storage_db, pytest.mark.usefixtures("dogs_and_cats")]

TOKENS = "/api/v1/auth/tokens/"
PROBLEM = "application/problem+json"
PIPELINE = {
    "name": "dog pipeline",
    "admin": False,
    "grants": [
        {"storage": "dogs", "access": ["read", "write"]},
        {"storage": "cats", "access": ["manage"]},
    ],
    "expires_at": None,
}


def issue(api_client, body: dict = PIPELINE) -> dict:
    response = api_client.post(TOKENS, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def invalid(errors: dict) -> dict:
    return {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": "The request has invalid input; see errors.",
        "errors": errors,
    }


def test_post_answers_201_with_the_token_and_its_secret(api_client):
    response = api_client.post(TOKENS, PIPELINE, format="json")

    body = response.json()
    assert response.status_code == 201
    assert body == {
        "id": ANY,
        "name": "dog pipeline",
        "prefix": body["token"][:10],
        "admin": False,
        "grants": [
            {"storage": "dogs", "access": ["read", "write"]},
            {"storage": "cats", "access": ["manage"]},
        ],
        "expires_at": None,
        "revoked_at": None,
        "created_at": ANY,
        "active": True,
        "token": ANY,
    }
    assert body["token"].startswith("dst_")
    assert len(body["token"]) >= 40
    assert bearer(body["token"]).get("/api/v1/storage/dogs/").status_code == 200


def test_post_with_expiry_and_admin_role(api_client):
    body = issue(api_client, {"name": "ops", "admin": True, "expires_at": "2099-01-01T00:00:00Z"})

    assert body["admin"] is True
    assert body["grants"] == []
    assert body["expires_at"] == "2099-01-01T00:00:00Z"
    assert bearer(body["token"]).get(TOKENS).status_code == 200


def test_secret_is_stored_only_as_its_sha256(api_client):
    body = issue(api_client)

    row = ApiToken.objects.values().get(pk=body["id"])
    assert row["secret_hash"] == hashlib.sha256(body["token"].encode()).hexdigest()
    assert not any(body["token"] in str(value) for value in row.values())
    assert row["prefix"] == body["token"][:10]


def test_get_lists_and_shows_tokens_without_their_secret(api_client):
    body = issue(api_client)

    listed = api_client.get(TOKENS)
    shown = api_client.get(f"{TOKENS}{body['id']}/")

    assert listed.status_code == 200
    assert shown.status_code == 200
    items = listed.json()["results"]
    assert [item["name"] for item in items] == ["test-admin", "dog pipeline"]
    assert all("token" not in item for item in items)
    expected = {key: value for key, value in body.items() if key != "token"}
    assert shown.json() == expected
    assert body["token"] not in listed.content.decode()
    assert body["token"] not in shown.content.decode()


def test_delete_revokes_at_once_and_answers_204(api_client):
    body = issue(api_client)
    client = bearer(body["token"])
    assert client.get("/api/v1/storage/dogs/").status_code == 200

    response = api_client.delete(f"{TOKENS}{body['id']}/")

    assert response.status_code == 204
    assert response.content == b""
    assert client.get("/api/v1/storage/dogs/").status_code == 401
    shown = api_client.get(f"{TOKENS}{body['id']}/").json()
    assert shown["active"] is False
    assert shown["revoked_at"] is not None
    # Revoking again changes nothing and still answers 204.
    assert api_client.delete(f"{TOKENS}{body['id']}/").status_code == 204


@pytest.mark.parametrize("token_id", ["999999", "abc", "1.5", "-1", "%D9%A3", "9" * 25])
def test_delete_of_an_unknown_token_answers_404(api_client, token_id):
    response = api_client.delete(f"{TOKENS}{token_id}/")

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"] == "not-found"


def test_delete_of_an_unknown_numeric_id_names_it(api_client):
    response = api_client.delete(f"{TOKENS}999999/")

    assert response.json() == {
        "type": "not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No token with id 999999.",
    }


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"name": "x", "grants": [{"storage": "nope", "access": ["read"]}]},
            {"grants.0.storage": ["No storage named 'nope'."]},
        ),
        (
            {"name": "x", "grants": [{"storage": "dogs", "access": ["read", "admin"]}]},
            {"grants.0.access.1": ['"admin" is not a valid choice.']},
        ),
        (
            {"name": "x", "grants": [{"storage": "dogs", "access": []}]},
            {"grants.0.access": ["Ensure this field has at least 1 elements."]},
        ),
        (
            {"name": "x", "grants": [{"storage": "dogs", "access": "read"}]},
            {"grants.0.access": ['Expected a list of items but got type "str".']},
        ),
        (
            {"name": "x", "grants": [{"storage": "dogs", "access": ["read"], "scope": "*"}]},
            {"grants.0.scope": ["Unknown key."]},
        ),
        (
            {"name": "x", "role": "admin"},
            {"role": ["Unknown key."]},
        ),
        (
            {
                "name": "x",
                "grants": [
                    {"storage": "dogs", "access": ["read"]},
                    {"storage": "dogs", "access": ["write"]},
                ],
            },
            {"grants": ["Name each storage once."]},
        ),
        (
            {"name": "x", "grants": {"storage": "dogs", "access": ["read"]}},
            {"grants": ['Expected a list of items but got type "dict".']},
        ),
        (
            {"grants": []},
            {"name": ["This field is required."]},
        ),
    ],
    ids=[
        "unknown-storage",
        "bad-access-kind",
        "no-access",
        "access-not-a-list",
        "unknown-grant-key",
        "unknown-key",
        "storage-twice",
        "grants-not-a-list",
        "no-name",
    ],
)
def test_post_with_bad_input_answers_400_and_issues_nothing(api_client, body, errors):
    before = ApiToken.objects.count()

    response = api_client.post(TOKENS, body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json() == invalid(errors)
    assert ApiToken.objects.count() == before
    assert not Grant.objects.exists()
