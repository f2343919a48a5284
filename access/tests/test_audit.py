"""Tokens and grants in the audit trail: issued and revoked over the API, by a command, and
changed in the Django admin; never a secret, a hash or a prefix."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from access import services
from access.models import ApiToken, Grant
from access.services import token_issue
from audit.models import AuditEntry
from core.testing import storage_db
from factory.models import StorageDefinition

pytestmark = [storage_db, pytest.mark.usefixtures("dogs_and_cats")]

TOKENS = "/api/v1/auth/tokens/"


def token_entries() -> list[tuple[str, str, str, str]]:
    """(action, storage, actor kind, actor name) of token and grant entries, oldest first."""
    entries = AuditEntry.objects.filter(action__regex=r"^(token|grant)\.").order_by("id")
    return [(e.action, e.storage, e.actor_kind, e.actor_name) for e in entries]


def without_setup(entries: list[tuple]) -> list[tuple]:
    # The fixtures' own tokens (test-admin) are issued by the system.
    return [entry for entry in entries if entry[2] != "system"]


def test_issue_and_revoke_over_the_api_are_audited_with_the_token(api_client):
    body = {"name": "pipeline", "grants": [{"storage": "dogs", "access": ["read", "write"]}]}
    issued = api_client.post(TOKENS, body, format="json", HTTP_X_REQUEST_ID="r-issue").json()
    api_client.delete(f"{TOKENS}{issued['id']}/")
    api_client.delete(f"{TOKENS}{issued['id']}/")  # revoked already: nothing changes

    assert without_setup(token_entries()) == [
        ("token.issue", "", "token", "test-admin"),
        ("grant.add", "dogs", "token", "test-admin"),
        ("token.revoke", "", "token", "test-admin"),
    ]
    issue, grant, revoke = AuditEntry.objects.filter(token_id=issued["id"]).order_by("id")
    assert issue.request_id == "r-issue"
    assert issue.address == "127.0.0.1"
    assert issue.changes == {
        "before": None,
        "after": {"name": "pipeline", "admin": False, "expires_at": None, "revoked_at": None},
    }
    assert grant.changes == {"before": None, "after": {"access": ["read", "write"]}}
    assert revoke.changes["before"] == {"revoked_at": None}
    assert revoke.changes["after"]["revoked_at"] is not None


def test_no_entry_holds_a_secret_its_hash_or_its_prefix(api_client):
    issued = api_client.post(TOKENS, {"name": "pipeline"}, format="json").json()
    token = ApiToken.objects.get(pk=issued["id"])

    trail = json.dumps(list(AuditEntry.objects.values()), default=str)
    for secret in (issued["token"], token.secret_hash, token.prefix):
        assert secret not in trail


def test_issue_token_command_is_audited_as_the_system(capsys):
    call_command("issue_token", "nightly", "--read", "dogs")

    assert token_entries()[-2:] == [
        ("token.issue", "", "system", "manage.py issue_token"),
        ("grant.add", "dogs", "system", "manage.py issue_token"),
    ]


def test_a_failed_issue_leaves_no_token_and_no_entry(monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("the grant's entry could not be written")

    monkeypatch.setattr(services, "grant_audit", fail)
    before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError):
        token_issue(name="pipeline", grants=[{"storage": "dogs", "access": ["read"]}])

    assert not ApiToken.objects.filter(name="pipeline").exists()
    assert AuditEntry.objects.count() == before


# --- the Django admin -----------------------------------------------------------------------


def test_grant_and_ungrant_in_the_admin_are_audited_with_the_admin_user(admin_client, admin_user):
    token = token_issue(name="pipeline").token
    dogs = StorageDefinition.objects.get(name="dogs")

    admin_client.post(
        "/admin/access/grant/add/", {"token": token.pk, "storage": dogs.pk, "read": "on"}
    )
    grant = Grant.objects.get(token=token)
    admin_client.post(
        f"/admin/access/grant/{grant.pk}/change/",
        {"token": token.pk, "storage": dogs.pk, "read": "on", "write": "on"},
    )
    admin_client.post(f"/admin/access/grant/{grant.pk}/delete/", {"post": "yes"})

    entries = AuditEntry.objects.filter(action__startswith="grant.").order_by("id")
    assert [
        (e.action, e.storage, e.token_id, e.actor_kind, e.actor_id, e.actor_name) for e in entries
    ] == [
        ("grant.add", "dogs", token.pk, "admin", admin_user.pk, "admin"),
        ("grant.change", "dogs", token.pk, "admin", admin_user.pk, "admin"),
        ("grant.remove", "dogs", token.pk, "admin", admin_user.pk, "admin"),
    ]
    assert [e.changes for e in entries] == [
        {"before": None, "after": {"access": ["read"]}},
        {"before": {"access": ["read"]}, "after": {"access": ["read", "write"]}},
        {"before": {"access": ["read", "write"]}, "after": None},
    ]
    assert entries[0].request_id  # the admin's requests pass the request-id middleware too


def test_revoking_and_ungranting_on_the_token_page_are_audited(admin_client):
    token = token_issue(name="pipeline", grants=[{"storage": "dogs", "access": ["read"]}]).token
    grant = token.grants.get()
    form = {
        "name": "pipeline",
        "revoked_at_0": "2026-01-02",
        "revoked_at_1": "03:04:05",
        "grants-TOTAL_FORMS": "1",
        "grants-INITIAL_FORMS": "1",
        "grants-0-id": grant.pk,
        "grants-0-token": token.pk,
        "grants-0-storage": grant.storage_id,
        "grants-0-read": "on",
        "grants-0-DELETE": "on",
    }

    response = admin_client.post(f"/admin/access/apitoken/{token.pk}/change/", form)

    assert response.status_code == 302
    assert without_setup(token_entries()) == [
        ("token.revoke", "", "admin", "admin"),
        ("grant.remove", "dogs", "admin", "admin"),
    ]


def test_deleting_a_token_in_the_admin_audits_it_and_its_grants(admin_client):
    token = token_issue(name="pipeline", grants=[{"storage": "cats", "access": ["manage"]}]).token

    admin_client.post(f"/admin/access/apitoken/{token.pk}/delete/", {"post": "yes"})

    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert without_setup(token_entries()) == [
        ("grant.remove", "cats", "admin", "admin"),
        ("token.delete", "", "admin", "admin"),
    ]
