"""A token that may write a storage but not read it never gets record contents back.

Every write answers such a token with the key and `_version` (and its headers), on the
front door and through the DRF viewset alike; errors carry no field values either.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from access.services import token_issue
from core.testing import storage_db
from factory.tests.factories import dogs_definition

pytestmark = storage_db

URL = "/api/v1/storage/dogs/"
REX = {
    "name": "Rex",
    "breed": "secret breed",
    "born": "2020-01-01",
    "registered_at": "2024-05-01T12:00:00Z",
}
SECRET = "secret breed"


@pytest.fixture(params=[True, False], ids=["fast-path", "drf"])
def writer(request, settings, create_storage, api_client) -> APIClient:
    """A write-only client on `dogs`, which holds Rex (id 1), written by the admin."""
    settings.RECORDS_FAST_PATH = request.param
    create_storage(dogs_definition())
    assert api_client.post(URL, REX, format="json").status_code == 201
    token = token_issue(name="writer", grants=[{"storage": "dogs", "access": ["write"]}])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    return client


def _current(api_client: APIClient) -> dict:
    return api_client.get(f"{URL}1/").json()


def test_patch_of_nothing_with_any_version_answers_key_and_version_only(writer, api_client):
    response = writer.patch(f"{URL}1/", {}, format="json", HTTP_IF_MATCH="*")

    assert response.status_code == 200
    stored = _current(api_client)
    assert response.json() == {"id": 1, "_version": stored["_version"]}
    assert response["ETag"] == f'"{stored["_version"]}"'


def test_patch_and_put_answer_key_and_version_only(writer, api_client):
    patched = writer.patch(f"{URL}1/", {"age": 4}, format="json", HTTP_IF_MATCH='"1"')
    version = patched.json()["_version"]
    replaced = writer.put(f"{URL}1/", REX, format="json", HTTP_IF_MATCH=f'"{version}"')

    assert patched.status_code == 200
    assert patched.json() == {"id": 1, "_version": version}
    assert replaced.status_code == 200
    assert replaced.json() == {"id": 1, "_version": _current(api_client)["_version"]}
    assert replaced["ETag"] == f'"{replaced.json()["_version"]}"'


def test_create_answers_key_version_location_and_etag_only(writer, api_client):
    response = writer.post(URL, {**REX, "name": "Ida"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "_version"}
    assert response["Location"] == f"http://testserver{URL}{body['id']}/"
    assert response["ETag"] == f'"{body["_version"]}"'
    assert api_client.get(response["Location"]).json()["name"] == "Ida"


def test_idempotent_create_answers_and_replays_key_and_version_only(writer):
    first = writer.post(URL, {**REX, "name": "Ida"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = writer.post(URL, {**REX, "name": "Ida"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert first.status_code == again.status_code == 201
    assert set(first.json()) == {"id", "_version"}
    assert again.json() == first.json()


def test_bulk_create_answers_keys_and_versions_only(writer):
    items = [{**REX, "name": name} for name in ("A", "B", "C")]

    response = writer.post(URL, items, format="json")

    assert response.status_code == 201
    assert [set(record) for record in response.json()] == [{"id", "_version"}] * 3


def test_delete_answers_204_without_a_body(writer, api_client):
    response = writer.delete(f"{URL}1/")

    assert response.status_code == 204
    assert response.content == b""
    assert api_client.get(f"{URL}1/").status_code == 404


def test_refused_writes_echo_no_stored_value(writer):
    answers = [
        writer.post(URL, REX, format="json"),  # 409: name and born taken
        writer.patch(f"{URL}1/", {"age": 5}, format="json", HTTP_IF_MATCH='"999"'),  # 412
        writer.put(f"{URL}1/", {"name": "x"}, format="json", HTTP_IF_MATCH='"1"'),  # 400
        writer.get(f"{URL}1/"),  # 403
    ]

    assert [response.status_code for response in answers] == [409, 412, 400, 403]
    for response in answers:
        assert SECRET not in response.content.decode()
        assert "Rex" not in response.content.decode()
