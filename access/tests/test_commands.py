"""issue_token and bootstrap_token: the secret alone on the last line of stdout, once."""

from __future__ import annotations

import hashlib
import stat
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from access.models import ApiToken
from access.tests.conftest import bearer
from core.testing import storage_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def last_line(output: str) -> str:
    """The last line, checking that nothing (not even a blank line) follows it."""
    assert output.endswith("\n")
    assert not output.endswith("\n\n")
    return output.splitlines()[-1]


def grants_of(token: ApiToken) -> dict[str, list[str]]:
    return {grant.storage.name: grant.access for grant in token.grants.all()}


@storage_db
@pytest.mark.usefixtures("dogs_and_cats")
def test_issue_token_prints_the_client_token_alone_on_the_last_line():
    out, err = run("issue_token", "pipeline", "--read", "dogs", "cats", "--write", "dogs")

    secret = last_line(out)
    token = ApiToken.objects.get(secret_hash=hashlib.sha256(secret.encode()).hexdigest())
    assert out == secret + "\n"
    assert secret.startswith("dst_")
    assert "pipeline" in err
    assert token.name == "pipeline"
    assert token.admin is False
    assert grants_of(token) == {"dogs": ["read", "write"], "cats": ["read"]}
    assert (
        bearer(secret).post("/api/v1/storage/cats/", {"name": "Tom"}, format="json").status_code
        == 403
    )
    assert bearer(secret).get("/api/v1/storage/cats/").status_code == 200


@storage_db
@pytest.mark.usefixtures("dogs_and_cats")
def test_issue_token_grants_manage():
    out, _ = run("issue_token", "migrator", "--manage", "cats")

    token = ApiToken.objects.get(secret_hash=hashlib.sha256(last_line(out).encode()).hexdigest())
    assert grants_of(token) == {"cats": ["manage"]}


@pytest.mark.django_db
def test_issue_token_admin():
    out, _ = run("issue_token", "ops", "--admin")

    secret = last_line(out)
    assert ApiToken.objects.get(name="ops").admin is True
    assert bearer(secret).get("/api/v1/auth/tokens/").status_code == 200


@pytest.mark.django_db
def test_issue_token_for_an_unknown_storage_fails_and_issues_nothing():
    with pytest.raises(CommandError, match="No storage named 'nope'"):
        run("issue_token", "pipeline", "--read", "nope")

    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_bootstrap_token_issues_one_admin_token_the_first_time_only(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    first, _ = run("bootstrap_token")
    secret = last_line(first)
    path = tmp_path / "admin.token"
    saved = path.read_text()
    second, _ = run("bootstrap_token")

    assert secret.startswith("dst_")
    assert str(path) in first
    assert saved == secret + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ApiToken.objects.get().admin is True
    assert bearer(secret).get("/api/v1/auth/tokens/").status_code == 200
    assert secret not in second
    assert ApiToken.objects.count() == 1
    assert path.read_text() == saved


@pytest.mark.django_db
def test_bootstrap_token_issues_nothing_when_an_admin_token_exists(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    run("issue_token", "ops", "--admin")

    out, _ = run("bootstrap_token")

    assert "exists already" in out
    assert ApiToken.objects.count() == 1
    assert not (tmp_path / "admin.token").exists()
