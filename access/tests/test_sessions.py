"""access.authentication.AdminSessionAuthentication: a staff user of the admin, signed in with
its session, uses the API from a browser; superusers as admins, others by their grants
(access.models.UserGrant). The test client goes through the records front door first (the
root conftest): a request with a session cookie and no token must reach Django."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access.models import UserGrant
from audit.models import AuditEntry
from core.testing import storage_db
from factory.models import StorageDefinition

pytestmark = [storage_db, pytest.mark.usefixtures("dogs_and_cats")]

DOGS = "/api/v1/storage/dogs/"
REX = {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z"}


def signed_in(*, superuser: bool = False, staff: bool = True, csrf: bool = False) -> Client:
    users = get_user_model().objects
    make = users.create_superuser if superuser else users.create_user
    user = make("alice", "alice@example.com", "pw")
    user.is_staff = staff
    user.save()
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def grant(client: Client, storage: str, *kinds: str) -> None:
    UserGrant.objects.create(
        user=get_user_model().objects.get(username="alice"),
        storage=StorageDefinition.objects.get(name=storage),
        **dict.fromkeys(kinds, True),
    )


def test_a_superuser_session_reaches_the_records_api_past_the_front_door():
    client = signed_in(superuser=True)

    created = client.post(DOGS, REX, content_type="application/json")
    listed = client.get(DOGS)

    assert created.status_code == 201, created.content
    assert listed.status_code == 200
    assert [dog["name"] for dog in listed.json()["results"]] == ["Rex"]


def test_a_staff_user_has_the_grants_given_in_the_admin_and_no_more():
    client = signed_in()
    nothing = client.get(DOGS)
    grant(client, "dogs", "read")

    read = client.get(DOGS)
    write = client.post(DOGS, REX, content_type="application/json")
    cats = client.get("/api/v1/storage/cats/")
    storages = client.get("/api/v1/factory/storage/")

    assert nothing.status_code == 403
    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json()["type"] == "permission-denied"
    assert cats.status_code == 403
    assert [storage["name"] for storage in storages.json()["results"]] == ["dogs"]


def test_a_session_write_needs_the_csrf_token():
    client = signed_in(superuser=True, csrf=True)
    client.get("/admin/")  # sets the CSRF cookie, as any admin page does

    refused = client.post(DOGS, REX, content_type="application/json")
    created = client.post(
        DOGS,
        REX,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )

    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert created.status_code == 201


def test_users_who_are_not_staff_are_anonymous_to_the_api():
    client = signed_in(staff=False)

    response = client.get(DOGS)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="datastorage"'


def test_a_change_made_in_a_session_is_audited_as_the_admin_user():
    client = signed_in(superuser=True)

    response = client.delete("/api/v1/factory/storage/cats/", HTTP_IF_MATCH='"1"')

    assert response.status_code == 204
    entry = AuditEntry.objects.get(action="storage.delete")
    assert (entry.actor_kind, entry.actor_name) == ("admin", "alice")
