"""access.admin: tokens and grants in the Django admin, never the secret nor its hash."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from access.credentials import hash_secret
from access.models import ApiToken, UserGrant
from access.services import IssuedToken, token_issue
from access.tests.conftest import bearer
from audit.models import AuditEntry
from core.testing import storage_db
from factory.models import StorageDefinition

pytestmark = [storage_db, pytest.mark.usefixtures("dogs_and_cats")]

TOKENS = "/admin/access/apitoken/"
GRANTS = "/admin/access/grant/"


@pytest.fixture
def issued() -> IssuedToken:
    return token_issue(
        name="dog pipeline",
        grants=[
            {"storage": "dogs", "access": ["read", "write"]},
            {"storage": "cats", "access": ["manage"]},
        ],
    )


def assert_no_secret(content: str, issued: IssuedToken) -> None:
    assert issued.secret not in content
    assert issued.token.secret_hash not in content
    assert "secret_hash" not in content


def test_token_list_shows_name_prefix_and_role_but_no_secret(admin_client, issued):
    response = admin_client.get(TOKENS)

    content = response.content.decode()
    assert response.status_code == 200
    assert f'href="{TOKENS}{issued.token.pk}/change/"' in content
    assert "dog pipeline" in content
    assert issued.token.prefix in content
    assert_no_secret(content, issued)


def test_token_page_shows_its_grants_inline_but_no_secret(admin_client, issued):
    response = admin_client.get(f"{TOKENS}{issued.token.pk}/change/")

    content = response.content.decode()
    assert response.status_code == 200
    assert 'name="grants-TOTAL_FORMS" value="2"' in content
    assert ">dogs</option>" in content
    assert ">cats</option>" in content
    assert_no_secret(content, issued)


def test_grant_list_shows_token_storage_and_access(admin_client, issued):
    response = admin_client.get(GRANTS)

    content = response.content.decode()
    assert response.status_code == 200
    for grant in issued.token.grants.all():
        assert f'<a href="{GRANTS}{grant.pk}/change/">dog pipeline (' in content
    assert '<td class="field-storage nowrap">dogs</td>' in content
    assert '<td class="field-storage nowrap">cats</td>' in content
    assert '<td class="field-manage"><img src="/static/admin/img/icon-yes.svg"' in content
    assert_no_secret(content, issued)


def test_a_token_issued_in_the_admin_shows_its_secret_once_with_its_grants(admin_client):
    dogs = StorageDefinition.objects.get(name="dogs")
    form = {
        "name": "feeder",
        "grants-TOTAL_FORMS": "1",
        "grants-INITIAL_FORMS": "0",
        "grants-0-storage": str(dogs.pk),
        "grants-0-read": "on",
        "grants-0-write": "on",
    }

    page = admin_client.post(f"{TOKENS}add/", form)

    content = page.content.decode()
    token = ApiToken.objects.get(name="feeder")
    secret = re.search(r'id="token-secret"[^>]* value="(dst_[^"]+)"', content).group(1)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "shown <strong>only this once</strong>" in content
    assert "dogs: read, write" in content
    assert token.secret_hash == hash_secret(secret)
    assert not token.admin
    assert [grant.access for grant in token.grants.all()] == [["read", "write"]]
    assert secret not in admin_client.get(f"{TOKENS}{token.pk}/change/").content.decode()
    listed = bearer(secret).get("/api/v1/storage/dogs/")
    assert listed.status_code == 200
    entries = AuditEntry.objects.filter(token_id=token.pk).order_by("id")
    assert list(entries.values_list("action", "actor_kind")) == [
        ("token.issue", "admin"),
        ("grant.add", "admin"),
    ]


def test_the_revoke_action_revokes_the_selected_tokens(admin_client, issued):
    response = admin_client.post(
        TOKENS, {"action": "revoke", "_selected_action": [str(issued.token.pk)]}, follow=True
    )

    issued.token.refresh_from_db()
    assert response.status_code == 200
    assert "Revoked 1 token(s)." in response.content.decode()
    assert issued.token.revoked_at is not None
    assert bearer(issued.secret).get("/api/v1/storage/dogs/").status_code == 401
    assert AuditEntry.objects.filter(action="token.revoke", actor_kind="admin").count() == 1


def test_a_staff_users_storage_grants_are_given_on_their_page_and_audited(admin_client):
    alice = get_user_model().objects.create_user("alice", is_staff=True)
    page = admin_client.get(f"/admin/auth/user/{alice.pk}/change/")
    form = {
        "username": "alice",
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "00:00:00",
    }
    form.update(
        {
            "storage_grants-TOTAL_FORMS": "1",
            "storage_grants-INITIAL_FORMS": "0",
            "storage_grants-0-storage": str(StorageDefinition.objects.get(name="cats").pk),
            "storage_grants-0-read": "on",
        }
    )

    saved = admin_client.post(f"/admin/auth/user/{alice.pk}/change/", form)

    assert "storage grants (the api with this user" in page.content.decode().lower()
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    assert [g.access for g in UserGrant.objects.filter(user=alice)] == [["read"]]
    entry = AuditEntry.objects.get(action="grant.add")
    assert (entry.storage, entry.token_id) == ("cats", None)
    assert entry.changes["after"] == {"access": ["read"], "user": "alice"}


def test_admin_can_revoke_by_setting_revoked_at(admin_client, issued):
    page = admin_client.get(f"{TOKENS}{issued.token.pk}/change/")
    form = page.context["adminform"].form

    assert "revoked_at" in form.fields
    assert "secret_hash" not in form.fields
