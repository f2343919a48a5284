"""Grants: a client token does what its grants on a storage say, and nothing else (403)."""

from __future__ import annotations

import pytest

from access.tests.conftest import CATS
from core.testing import storage_db
from factory.models import StorageDefinition
from storage.runtime import runtime_for

pytestmark = [storage_db, pytest.mark.usefixtures("dogs_and_cats")]

DOGS = "/api/v1/storage/dogs/"
CATS_RECORDS = "/api/v1/storage/cats/"
FACTORY = "/api/v1/factory/storage/"
PROBLEM = "application/problem+json"
NO_GRANT = {
    "type": "permission-denied",
    "title": "Permission denied",
    "status": 403,
    "detail": "This token has no grant for this operation on this storage.",
}
NOT_ADMIN = {
    "type": "permission-denied",
    "title": "Permission denied",
    "status": 403,
    "detail": "This needs an admin token.",
}
DOG = {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z"}


def assert_403(response, body: dict = NO_GRANT) -> None:
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert response.json() == body


def count(name: str) -> int:
    return runtime_for(name).model.objects.count()


@pytest.fixture
def dog(api_client) -> dict:
    response = api_client.post(DOGS, DOG, format="json")
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def cat(api_client) -> dict:
    response = api_client.post(CATS_RECORDS, {"name": "Tom"}, format="json")
    assert response.status_code == 201
    return response.json()


# --- records --------------------------------------------------------------------------------


def test_write_grant_creates_updates_and_deletes_dogs(client_with):
    client = client_with(write=["dogs"])

    created = client.post(DOGS, DOG, format="json")
    url = f"{DOGS}{created.json()['id']}/"
    patched = client.patch(url, {"age": 3}, format="json", HTTP_IF_MATCH=created["ETag"])
    replaced = client.put(url, {**DOG, "name": "Max"}, format="json", HTTP_IF_MATCH=patched["ETag"])
    deleted = client.delete(url, HTTP_IF_MATCH=replaced["ETag"])

    key = created.json()["id"]
    assert created.status_code == 201
    assert created.json() == {"id": key, "_version": int(created["ETag"].strip('"'))}
    assert patched.status_code == 200
    assert patched.json() == {"id": key, "_version": int(patched["ETag"].strip('"'))}
    assert replaced.status_code == 200
    assert replaced.json() == {"id": key, "_version": int(replaced["ETag"].strip('"'))}
    assert deleted.status_code == 204
    assert count("dogs") == 0


def test_write_grant_on_dogs_gets_403_on_cats_and_changes_nothing(client_with, cat):
    client = client_with(write=["dogs"])
    url = f"{CATS_RECORDS}{cat['id']}/"

    assert_403(client.get(CATS_RECORDS))
    assert_403(client.get(url))
    assert_403(client.post(CATS_RECORDS, {"name": "Felix"}, format="json"))
    assert_403(client.patch(url, {"name": "Felix"}, format="json", HTTP_IF_MATCH='"1"'))
    assert_403(client.delete(url))
    assert count("cats") == 1


def test_write_grant_alone_does_not_read(client_with, dog):
    client = client_with(write=["dogs"])

    assert_403(client.get(DOGS))
    assert_403(client.get(f"{DOGS}{dog['id']}/"))


def test_read_grant_lists_and_gets_but_cannot_write(client_with, dog):
    client = client_with(read=["dogs"])
    url = f"{DOGS}{dog['id']}/"

    listed = client.get(DOGS)
    got = client.get(url)

    assert listed.status_code == 200
    assert [record["id"] for record in listed.json()["results"]] == [dog["id"]]
    assert got.status_code == 200
    assert got.json() == dog
    assert_403(client.post(DOGS, DOG, format="json"))
    assert_403(client.put(url, DOG, format="json", HTTP_IF_MATCH='"1"'))
    assert_403(client.patch(url, {"age": 3}, format="json", HTTP_IF_MATCH='"1"'))
    assert_403(client.delete(url, HTTP_IF_MATCH='"1"'))
    assert client.get(url).json() == dog


def test_client_token_without_grants_is_refused_records_of_unknown_storages_too(client_with):
    client = client_with()

    assert_403(client.get(DOGS))
    # 403, not 404: a client token learns nothing about storages it has no grant on.
    assert_403(client.get("/api/v1/storage/nope/"))


# --- factory reads --------------------------------------------------------------------------


def test_client_token_lists_only_the_storages_it_has_a_grant_on(
    api_client, client_with, create_storage
):
    create_storage({**CATS, "name": "birds"})
    client = client_with(read=["dogs"], manage=["birds"])

    mine = client.get(FACTORY)
    everything = api_client.get(FACTORY)
    nothing = client_with().get(FACTORY)

    assert mine.status_code == 200
    assert [storage["name"] for storage in mine.json()["results"]] == ["birds", "dogs"]
    assert [storage["name"] for storage in everything.json()["results"]] == [
        "birds",
        "cats",
        "dogs",
    ]
    assert nothing.status_code == 200
    assert nothing.json()["results"] == []


@pytest.mark.parametrize(
    "path",
    [
        FACTORY + "{name}/",
        FACTORY + "{name}/schema/",
        "/api/v1/factory/ready_status/{name}/",
    ],
)
@pytest.mark.parametrize("kind", ["read", "write", "manage"])
def test_factory_reads_need_any_grant_on_the_storage(client_with, path, kind):
    client = client_with(**{kind: ["dogs"]})

    assert client.get(path.format(name="dogs")).status_code == 200
    assert_403(client.get(path.format(name="cats")))
    assert_403(client.get(path.format(name="nope")))


# --- factory writes -------------------------------------------------------------------------

CATS_V2 = {**CATS, "fields": [*CATS["fields"], {"name": "age", "type": "integer"}]}


def test_read_and_write_grants_cannot_evolve_a_definition(client_with):
    client = client_with(read=["cats"], write=["cats"])

    assert_403(client.put(FACTORY + "cats/", CATS_V2, format="json", HTTP_IF_MATCH='"1"'))
    assert_403(client.get(FACTORY + "cats/versions/"))
    assert_403(client.get(FACTORY + "cats/versions/1/"))
    assert_403(client.post(FACTORY + "cats/versions/1/retry/"))
    assert StorageDefinition.objects.get(name="cats").version == 1


def test_manage_grant_evolves_the_definition_of_its_storage_only(
    client_with, django_capture_on_commit_callbacks
):
    client = client_with(manage=["cats"])

    with django_capture_on_commit_callbacks(execute=True):  # the worker applies version 2
        declared = client.put(FACTORY + "cats/", CATS_V2, format="json", HTTP_IF_MATCH='"1"')
    versions = client.get(FACTORY + "cats/versions/")
    retried = client.post(FACTORY + "cats/versions/2/retry/")

    assert declared.status_code == 202  # a new column: applied by the worker
    assert declared.json()["version"] == 2
    assert versions.status_code == 200
    assert [version["version"] for version in versions.json()["results"]] == [1, 2]
    # Past the permission check: the service refuses to retry a version that is ready.
    assert retried.status_code == 400
    assert retried.json()["type"] == "validation-error"
    assert_403(client.put(FACTORY + "dogs/", {}, format="json", HTTP_IF_MATCH='"1"'))
    assert_403(client.get(FACTORY + "dogs/versions/"))


def test_admin_token_evolves_any_definition(api_client):
    declared = api_client.put(FACTORY + "cats/", CATS_V2, format="json", HTTP_IF_MATCH='"1"')

    assert declared.status_code == 202
    assert api_client.get(FACTORY + "cats/versions/").status_code == 200


def test_creating_and_dropping_storages_needs_an_admin_token(api_client, client_with):
    client = client_with(read=["dogs"], write=["dogs"], manage=["dogs"])
    birds = {**CATS, "name": "birds"}

    assert_403(client.post(FACTORY, birds, format="json"))
    assert_403(client.delete(FACTORY + "dogs/", HTTP_IF_MATCH='"1"'))
    assert set(StorageDefinition.objects.values_list("name", flat=True)) == {"cats", "dogs"}

    assert api_client.post(FACTORY, birds, format="json").status_code == 201
    assert api_client.delete(FACTORY + "dogs/", HTTP_IF_MATCH='"1"').status_code == 204
    assert set(StorageDefinition.objects.values_list("name", flat=True)) == {"birds", "cats"}


def test_tokens_api_refuses_client_tokens_even_with_every_grant(client_with):
    client = client_with(read=["dogs"], write=["dogs"], manage=["dogs"])

    assert_403(client.get("/api/v1/auth/tokens/"), NOT_ADMIN)
    assert_403(client.post("/api/v1/auth/tokens/", {"name": "x"}, format="json"), NOT_ADMIN)
