"""access.admin: tokens and grants in the Django admin, never the secret nor its hash."""

from __future__ import annotations

import pytest

from access.services import IssuedToken, token_issue
from core.testing import storage_db

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


def test_tokens_cannot_be_added_in_the_admin(admin_client):
    # A token is issued with its secret shown once: over the API or issue_token.
    assert admin_client.get(f"{TOKENS}add/").status_code == 403


def test_admin_can_revoke_by_setting_revoked_at(admin_client, issued):
    page = admin_client.get(f"{TOKENS}{issued.token.pk}/change/")
    form = page.context["adminform"].form

    assert "revoked_at" in form.fields
    assert "secret_hash" not in form.fields
