"""The factory's changes in the audit trail: who, what, from which request; none for a
change that failed."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

from access.models import ApiToken
from audit.models import AuditEntry
from core.testing import storage_db
from factory.models import StorageDefinition, StorageVersion, VersionStatus
from factory.services.storages import storage_delete
from factory.tests.factories import dogs_definition

pytestmark = storage_db

STORAGES = "/api/v1/factory/storage/"
DOGS = STORAGES + "dogs/"


def storage_entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(storage="dogs").order_by("id"))


def described() -> dict:
    return {**dogs_definition(), "description": "Dogs, described anew"}


def admin_actor() -> dict:
    token = ApiToken.objects.get(name="test-admin")
    return {"actor_kind": "token", "actor_id": token.id, "actor_name": "test-admin"}


def summary(entry: AuditEntry) -> dict:
    return {
        "action": entry.action,
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "request_id": entry.request_id,
        "address": entry.address,
    }


def test_create_version_retry_and_delete_are_audited_with_the_token(api_client):
    api_client.post(STORAGES, dogs_definition(), format="json", HTTP_X_REQUEST_ID="r-create")
    api_client.put(DOGS, described(), format="json", HTTP_IF_MATCH='"1"', HTTP_X_REQUEST_ID="r-v2")
    StorageVersion.objects.filter(number=2).update(status=VersionStatus.FAILED, detail="boom")
    StorageDefinition.objects.update(status=VersionStatus.FAILED)
    api_client.post(DOGS + "versions/2/retry/", HTTP_X_REQUEST_ID="r-retry")
    api_client.delete(DOGS, HTTP_IF_MATCH='"2"', HTTP_X_REQUEST_ID="r-delete")

    by = {**admin_actor(), "address": "127.0.0.1"}
    assert [summary(entry) for entry in storage_entries()] == [
        {"action": "storage.create", "request_id": "r-create", **by},
        {"action": "version.declare", "request_id": "r-v2", **by},
        {"action": "version.retry", "request_id": "r-retry", **by},
        {"action": "storage.delete", "request_id": "r-delete", **by},
    ]


def test_entries_say_what_changed(api_client):
    api_client.post(STORAGES, dogs_definition(), format="json")
    api_client.put(DOGS, described(), format="json", HTTP_IF_MATCH='"1"')

    created, declared = storage_entries()
    assert created.changes["before"] is None
    assert created.changes["after"]["version"] == 1
    assert created.changes["after"]["definition"]["fields"][0]["name"] == "name"
    assert declared.changes["before"]["version"] == 1
    assert declared.changes["after"]["version"] == 2
    assert declared.changes["after"]["definition"]["description"] == "Dogs, described anew"
    assert declared.changes["changes"] == [{"op": "change_description"}]


def test_an_invalid_new_version_leaves_no_entry(api_client, create_storage):
    create_storage(dogs_definition())
    before = AuditEntry.objects.count()

    invalid = {**dogs_definition(), "fields": [{"name": "name", "type": "nonsense"}]}
    response = api_client.put(DOGS, invalid, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 400
    assert AuditEntry.objects.count() == before


def test_a_refused_delete_leaves_no_entry(api_client, create_storage):
    create_storage(dogs_definition())
    before = AuditEntry.objects.count()

    assert api_client.delete(DOGS, HTTP_IF_MATCH='"7"').status_code == 412
    assert api_client.delete(DOGS).status_code == 428

    assert AuditEntry.objects.count() == before


def test_a_name_taken_leaves_no_second_entry(api_client, create_storage):
    create_storage(dogs_definition())

    assert api_client.post(STORAGES, dogs_definition(), format="json").status_code == 409

    assert [entry.action for entry in storage_entries()] == ["storage.create"]


def test_the_entry_is_written_in_the_changes_transaction(create_storage, monkeypatch):
    create_storage(dogs_definition())

    # The last step of the delete fails, after its entry was written: both roll back.
    def fail(*args, **kwargs):
        raise DatabaseError("the database failed at the last step")

    monkeypatch.setattr(StorageDefinition, "delete", fail)
    with pytest.raises(DatabaseError):
        storage_delete(name="dogs", if_match='"1"')

    assert StorageDefinition.objects.filter(name="dogs").exists()
    assert [entry.action for entry in storage_entries()] == ["storage.create"]


def test_services_called_without_a_request_record_the_system(create_storage):
    create_storage(dogs_definition())

    (entry,) = storage_entries()
    assert (entry.actor_kind, entry.actor_id, entry.actor_name) == ("system", None, "system")
    assert (entry.request_id, entry.address) == ("", None)
