"""Record versions (ETags) never repeat within a storage, and a storage dropped or declared
again under a process that served it answers 404, never a 500."""

from __future__ import annotations

import pytest

from core.testing import storage_db
from factory.services.storages import storage_create, storage_delete
from factory.tests.factories import dogs_definition

TAGS = "/api/v1/storage/tags/"


@pytest.fixture
def tags(create_storage) -> str:
    create_storage(
        {
            "name": "tags",
            "primary_key": {"name": "code", "type": "text"},
            "fields": [{"name": "label", "type": "text"}],
        }
    )
    return TAGS


@storage_db
def test_a_key_deleted_and_created_again_never_gets_an_etag_it_had(api_client, tags):
    first = api_client.post(tags, {"code": "a", "label": "first"}, format="json")
    api_client.delete(f"{tags}a/")
    again = api_client.post(tags, {"code": "a", "label": "second"}, format="json")

    assert first["ETag"] == '"1"'  # a fresh storage's first record still gets 1
    assert again.status_code == 201
    assert again["ETag"] != first["ETag"]
    cached = api_client.get(f"{tags}a/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert cached.status_code == 200  # not 304: the client never saw this content
    blind = api_client.patch(
        f"{tags}a/", {"label": "lost"}, format="json", HTTP_IF_MATCH=first["ETag"]
    )
    assert blind.status_code == 412
    assert api_client.get(f"{tags}a/").json()["label"] == "second"


@storage_db
def test_versions_increase_per_record_and_are_unique_in_the_storage(api_client, tags):
    seen = []
    for code in ("a", "b", "c"):
        seen.append(api_client.post(tags, {"code": code}, format="json").json()["_version"])
    bulk = api_client.post(tags, [{"code": "d"}, {"code": "e"}], format="json").json()
    seen += [record["_version"] for record in bulk]
    etag = f'"{seen[0]}"'
    for label in ("x", "y"):
        patched = api_client.patch(f"{tags}a/", {"label": label}, format="json", HTTP_IF_MATCH=etag)
        etag = patched["ETag"]
        seen.append(patched.json()["_version"])

    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)
    assert seen[:2] == [1, 2]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "drf"])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_writes_after_the_storage_is_dropped_and_declared_again_never_answer_500(
    api_client, settings, fast, method
):
    """Issue 16: a worker that served `dogs` (serial key) validated against its guess and
    queried the old table after `dogs` came back with a text key (`text = bigint`), or
    after it was dropped (`relation does not exist`)."""
    settings.RECORDS_FAST_PATH = fast
    dog = {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z"}
    storage_create(data=dogs_definition())
    created = api_client.post("/api/v1/storage/dogs/", dog, format="json")
    assert api_client.get(created["Location"]).status_code == 200  # served here
    write = getattr(api_client, method)

    storage_delete(name="dogs", if_match="*")
    gone = write(created["Location"], dog, format="json", HTTP_IF_MATCH="*")
    storage_create(data=dogs_definition(primary_key={"name": "code", "type": "text"}))
    api_client.post("/api/v1/storage/dogs/", {**dog, "code": "1"}, format="json")
    other = write(created["Location"], dog, format="json", HTTP_IF_MATCH="*")

    assert gone.status_code == 404
    assert gone.json()["type"] == "storage-not-found"
    assert other.status_code == 200  # key "1" of the storage by that name now
    assert other.json()["code"] == "1"
