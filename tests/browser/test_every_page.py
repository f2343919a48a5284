"""Every URL the API documents, asked for as a browser asks (`Accept: text/html`), by an admin
signed in to the admin site, by an admin token and by an anonymous client: never a 5xx, and
an HTML body is labelled text/html (a problem's too), a JSON one JSON. In process, through
the records front door first (the root conftest), as the server would answer."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from access.services import token_issue
from core.testing import storage_db
from factory.tests.factories import dogs_definition

pytestmark = [storage_db]

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def filled(create_storage, api_client) -> dict[str, str]:
    """A storage with a record, and a token: what each path parameter names."""
    create_storage(dogs_definition())
    record = api_client.post(
        "/api/v1/storage/dogs/",
        {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z"},
        format="json",
    )
    assert record.status_code == 201
    token = token_issue(name="reader", grants=[{"storage": "dogs", "access": ["read"]}])
    return {
        "name": "dogs",
        "key": str(record.json()["id"]),
        "number": "1",
        "id": str(token.token.pk),
    }


def documented_paths(filled: dict[str, str]) -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = [re.sub(r"\{(\w+)\}", lambda m: filled[m.group(1)], path) for path in schema["paths"]]
    docs = ["/api/v1/schema/", "/api/docs/", "/api/redoc/", "/api/v1/factory/storage/dogs/schema/"]
    # What a person types by hand: a path without its slash, one that does not exist.
    return sorted({*paths, *docs, "/api/v1/storage/dogs", "/api/v1/nothing/", "/admin/"})


@pytest.fixture
def clients(filled, admin_token) -> dict[str, Client]:
    signed_in = Client()
    signed_in.force_login(
        get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    )
    return {
        "admin session": signed_in,
        "admin token": Client(HTTP_AUTHORIZATION=f"Bearer {admin_token}"),
        "anonymous": Client(),
    }


def assert_labelled(response: Any, where: str) -> None:
    body = b"".join(response) if response.streaming else response.content
    content_type = response.get("Content-Type", "")
    assert response.status_code < 500, where
    if not body:
        return  # a redirect (the admin's to its login page), a 204
    looks_html = body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))
    assert looks_html == content_type.startswith("text/html"), f"{where}: {content_type}"
    if content_type.startswith("text/html"):
        assert b"Principal(" not in body, where
        assert b"StorageRow(" not in body, where


def test_every_documented_url_renders_for_a_browser(clients, filled):
    for path in documented_paths(filled):
        for who, client in clients.items():
            response = client.get(path, HTTP_ACCEPT=BROWSER_ACCEPT)
            assert_labelled(response, f"{who} GET {path} → {response.status_code}")


def test_the_answers_a_browser_gets(clients, filled):
    anonymous, admin = clients["anonymous"], clients["admin session"]

    records = admin.get("/api/v1/storage/dogs/", HTTP_ACCEPT=BROWSER_ACCEPT)
    refused = anonymous.get("/api/v1/storage/dogs/", HTTP_ACCEPT=BROWSER_ACCEPT)
    missing = admin.get("/api/v1/storage/dogs/999/", HTTP_ACCEPT=BROWSER_ACCEPT)
    no_route = anonymous.get("/api/v1/storage/dogs", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert records.status_code == 200
    assert "boss" in records.content.decode()  # the navbar names who is signed in
    assert refused.status_code == 401
    assert refused["Content-Type"].startswith("text/html")
    assert "not-authenticated" in refused.content.decode()
    assert missing.status_code == 404
    assert "record-not-found" in missing.content.decode()
    assert no_route.status_code == 404
    assert no_route["Content-Type"].startswith("text/html")
    assert "Did you mean /api/v1/storage/dogs/?" in no_route.content.decode()
