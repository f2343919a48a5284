"""GET one record by key (ETag, If-None-Match) and the plain list."""

from __future__ import annotations

import datetime

import pytest

from core.testing import storage_db
from factory.models import StorageVersion
from storage.runtime import clear_runtimes

pytestmark = storage_db

DOGS = "/api/v1/storage/dogs/"
PROBLEM = "application/problem+json"


def test_get_by_key_answers_200_with_the_record_and_its_etag(api_client, add_dog):
    dog = add_dog(name="Rex", weight_kg="12.5", registered_at="2024-05-01T12:00:00-03:00")

    response = api_client.get(f"{DOGS}{dog['id']}/")

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json() == {
        "id": dog["id"],
        "name": "Rex",
        "breed": None,
        "age": 0,
        "weight_kg": "12.50",
        "vaccinated": False,
        "born": None,
        "registered_at": "2024-05-01T15:00:00Z",
        "chip": None,
        "size": None,
        "extra": None,
        "_version": 1,
        "_created_at": dog["_created_at"],
        "_updated_at": dog["_updated_at"],
    }


def test_etag_follows_the_version(api_client, add_dog):
    dog = add_dog()
    url = f"{DOGS}{dog['id']}/"
    api_client.patch(url, {"age": 4}, format="json", HTTP_IF_MATCH='"1"')

    response = api_client.get(url)

    assert response["ETag"] == '"2"'
    assert response.json()["_version"] == 2


@pytest.mark.parametrize("header", ['"1"', "1", 'W/"1"', '"7", "1"', "*"])
def test_matching_if_none_match_answers_304_without_a_body(api_client, add_dog, header):
    dog = add_dog()

    response = api_client.get(f"{DOGS}{dog['id']}/", HTTP_IF_NONE_MATCH=header)

    assert response.status_code == 304
    assert response["ETag"] == '"1"'
    assert response.content == b""


def test_stale_if_none_match_answers_200_with_the_new_version(api_client, add_dog):
    dog = add_dog()
    url = f"{DOGS}{dog['id']}/"
    api_client.patch(url, {"age": 4}, format="json", HTTP_IF_MATCH='"1"')

    response = api_client.get(url, HTTP_IF_NONE_MATCH='"1"')

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    assert response.json()["age"] == 4


def test_if_none_match_answers_200_when_the_schema_became_ready_after_the_last_write(
    api_client, add_dog
):
    # The serving version turned ready after this record was written: its representation
    # may have gained fields, so a cached copy must not be confirmed.
    dog = add_dog()
    later = datetime.datetime.fromisoformat(dog["_updated_at"]) + datetime.timedelta(seconds=1)
    StorageVersion.objects.filter(storage__name="dogs").update(ready_at=later)
    clear_runtimes()

    response = api_client.get(f"{DOGS}{dog['id']}/", HTTP_IF_NONE_MATCH='"1"')

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json() == dog


def test_malformed_if_none_match_answers_400(api_client, add_dog):
    dog = add_dog()

    response = api_client.get(f"{DOGS}{dog['id']}/", HTTP_IF_NONE_MATCH="abc")

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": "The If-None-Match header is malformed.",
        "errors": {"If-None-Match": ["'abc' is not a version tag; send the ETag, e.g. \"3\"."]},
    }


def test_unknown_key_answers_404(api_client, add_dog):
    add_dog()

    response = api_client.get(f"{DOGS}999999/")

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "record-not-found",
        "title": "Record not found",
        "status": 404,
        "detail": "No record with id=999999 in 'dogs'.",
    }


@pytest.mark.parametrize("key", ["abc", "1.5", "9223372036854775808", "-9223372036854775809"])
def test_key_that_cannot_be_an_integer_key_answers_404(api_client, dogs, key):
    response = api_client.get(f"{DOGS}{key}/")

    assert response.status_code == 404
    assert response.json() == {
        "type": "record-not-found",
        "title": "Record not found",
        "status": 404,
        "detail": f"No record with id={key} in 'dogs'.",
    }


def test_key_that_cannot_be_a_uuid_answers_404(api_client, create_storage):
    create_storage(
        {
            "name": "tags",
            "primary_key": {"name": "tag", "type": "uuid"},
            "fields": [{"name": "label", "type": "text"}],
        }
    )

    response = api_client.get("/api/v1/storage/tags/not-a-uuid/")

    assert response.status_code == 404
    assert response.json()["type"] == "record-not-found"


def test_get_from_an_unknown_storage_answers_404(api_client):
    for url in ("/api/v1/storage/cats/", "/api/v1/storage/cats/1/"):
        response = api_client.get(url)

        assert response.status_code == 404
        assert response.json() == {
            "type": "storage-not-found",
            "title": "Storage not found",
            "status": 404,
            "detail": "No storage named 'cats'.",
        }


def test_list_answers_every_record_in_key_order_without_links(api_client, add_dog):
    created = [add_dog(name=name) for name in ("Rex", "Bella", "Max")]

    response = api_client.get(DOGS)

    body = response.json()
    assert response.status_code == 200
    assert body.pop("changes").startswith(f"http://testserver{DOGS}changes/?after=")
    assert body == {"results": created, "next": None, "previous": None}


def test_list_of_an_empty_storage_is_an_empty_page(api_client, dogs):
    response = api_client.get(DOGS)

    body = response.json()
    assert response.status_code == 200
    assert body.pop("changes").startswith(f"http://testserver{DOGS}changes/?after=")
    assert body == {"results": [], "next": None, "previous": None}


def test_fields_named_like_builder_internals_read_back_their_own_values(api_client, create_storage):
    """The builder's class attributes are underscored, so `definition` or `storage_id` are
    ordinary field names whose values survive a projection (deferred loading)."""
    create_storage(
        {
            "name": "meta",
            "fields": [
                {"name": "definition", "type": "text"},
                {"name": "storage_id", "type": "integer"},
            ],
        }
    )
    created = api_client.post(
        "/api/v1/storage/meta/", {"definition": "mine", "storage_id": 42}, format="json"
    ).json()

    page = api_client.get("/api/v1/storage/meta/?fields=definition,storage_id").json()

    assert page["results"] == [
        {"id": created["id"], "definition": "mine", "storage_id": 42, "_version": 1}
    ]


def test_get_by_key_costs_two_queries_on_the_general_path(
    api_client, add_dog, django_assert_num_queries, settings
):
    settings.RECORDS_FAST_PATH = False  # storage/tests/test_parity.py: one query there
    dog = add_dog()

    # The token with the storage's serving version and grant, then the row.
    with django_assert_num_queries(2):
        response = api_client.get(f"/api/v1/storage/dogs/{dog['id']}/")

    assert response.json() == dog


@pytest.mark.parametrize(
    "query",
    [
        "",
        "breed=lab&limit=2",
        "cursor=old&breed=lab",
        "breed=lab&cursor=old&limit=2",
        "name=R%C3%A9bus+le+chien&fields=name,age",
        "name=a%2Bb%26c%3Dd&ordering=-age",
        "name=&limit=3",
    ],
)
def test_a_page_link_encodes_the_query_as_a_copied_querydict_would(rf, query):
    """records.links.page_url builds the link without copying the QueryDict; it must spell
    it as the copy with ["cursor"] set, encoded by django.utils.http.urlencode, spelled it."""
    from django.utils.http import urlencode as django_urlencode

    from storage.records import RecordRequest
    from storage.records.links import page_url

    request = rf.get(f"/api/v1/storage/dogs/?{query}")
    described = RecordRequest(
        name="dogs",
        principal=None,
        query=request.GET,
        path=request.path,
        absolute=request.build_absolute_uri,
    )
    params = request.GET.copy()
    params["cursor"] = "Zm9vYmFy-_"
    expected = request.build_absolute_uri(f"{request.path}?{django_urlencode(params, doseq=True)}")

    assert page_url(described, "Zm9vYmFy-_") == expected
