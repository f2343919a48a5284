"""DELETE a record: 204; If-Match optional, and a stale one answers 412."""

from __future__ import annotations

import pytest

from core.testing import storage_db

pytestmark = storage_db

DOGS = "/api/v1/storage/dogs/"
PROBLEM = "application/problem+json"


@pytest.fixture
def url(add_dog) -> str:
    return f"{DOGS}{add_dog()['id']}/"


def test_delete_without_if_match_answers_204_and_removes_the_record(api_client, url, dog_count):
    response = api_client.delete(url)

    assert response.status_code == 204
    assert response.content == b""
    assert api_client.get(url).status_code == 404
    assert dog_count() == 0


@pytest.mark.parametrize("header", ['"1"', "1", 'W/"1"', "*"])
def test_delete_with_the_current_version_answers_204(api_client, url, dog_count, header):
    response = api_client.delete(url, HTTP_IF_MATCH=header)

    assert response.status_code == 204
    assert dog_count() == 0


def test_delete_with_a_stale_version_answers_412_and_keeps_the_record(api_client, url, dog_count):
    api_client.patch(url, {"age": 4}, format="json", HTTP_IF_MATCH='"1"')

    response = api_client.delete(url, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "precondition-failed",
        "title": "Precondition failed",
        "status": 412,
        "detail": "The resource is at version 2; re-read it and retry.",
        "current_version": 2,
    }
    assert dog_count() == 1


def test_delete_with_a_malformed_if_match_answers_400_and_keeps_the_record(
    api_client, url, dog_count
):
    response = api_client.delete(url, HTTP_IF_MATCH="yesterday")

    assert response.status_code == 400
    assert response.json()["detail"] == "The If-Match header is malformed."
    assert dog_count() == 1


@pytest.mark.parametrize("headers", [{}, {"HTTP_IF_MATCH": '"1"'}])
def test_delete_of_an_unknown_key_answers_404(api_client, dogs, headers):
    response = api_client.delete(f"{DOGS}999999/", **headers)

    assert response.status_code == 404
    assert response.json() == {
        "type": "record-not-found",
        "title": "Record not found",
        "status": 404,
        "detail": "No record with id=999999 in 'dogs'.",
    }


def test_delete_twice_answers_404_the_second_time(api_client, url):
    api_client.delete(url)

    response = api_client.delete(url)

    assert response.status_code == 404
    assert response.json()["type"] == "record-not-found"


def test_delete_with_a_key_that_cannot_be_an_integer_answers_404(api_client, dogs):
    response = api_client.delete(f"{DOGS}rex/")

    assert response.status_code == 404
    assert response.json()["type"] == "record-not-found"


def test_delete_by_natural_key(api_client, create_storage):
    create_storage(
        {
            "name": "chips",
            "primary_key": {"name": "number", "type": "integer"},
            "fields": [{"name": "label", "type": "text"}],
        }
    )
    api_client.post("/api/v1/storage/chips/", {"number": -7, "label": "x"}, format="json")

    response = api_client.delete("/api/v1/storage/chips/-7/", HTTP_IF_MATCH='"1"')

    assert response.status_code == 204
    assert api_client.get("/api/v1/storage/chips/-7/").status_code == 404


def test_delete_in_an_unknown_storage_answers_404(api_client):
    response = api_client.delete("/api/v1/storage/cats/1/")

    assert response.status_code == 404
    assert response.json()["type"] == "storage-not-found"
