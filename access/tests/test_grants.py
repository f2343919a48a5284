"""The grant rule and "active", each defined once: the SQL forms (access.selectors) and the
Python forms (access.grants.may_access, ApiToken.is_active) answer alike, on a real database."""

from __future__ import annotations

import datetime
from itertools import combinations

import pytest
from django.db import connection
from django.utils import timezone

from access.authentication import Principal
from access.grants import GRANT_KINDS, grant_decode, may_access
from access.models import ApiToken
from access.selectors import token_guard, token_lookup
from access.services import hash_secret, token_issue, token_revoke
from access.tests.conftest import CATS
from core.testing import storage_db
from factory.models import StorageDefinition

pytestmark = storage_db

# None: no grant row at all; otherwise a grant holding these kinds (possibly none).
GRANTS = [None, *(kinds for size in range(4) for kinds in combinations(GRANT_KINDS, size))]
NEEDED = [*((kind,) for kind in GRANT_KINDS), ("any",), ("admin",), ("write", "read")]


def _in_sql(secret_hash: str, storage: StorageDefinition, needed: tuple[str, ...]) -> bool:
    guard = token_guard(
        secret_hash=secret_hash,
        storage_name=storage.name,
        storage_id=storage.id,
        version=storage.serving_version,
        access=needed,
    )
    with connection.cursor() as cursor:
        cursor.execute(guard.sql, guard.params)
        return cursor.fetchone() is not None


def test_sql_condition_and_python_rule_agree_on_every_combination(create_storage):
    create_storage(CATS)
    storage = StorageDefinition.objects.get(name="cats")
    answers = {}
    for admin in (False, True):
        for kinds in GRANTS:
            grants = [] if kinds is None else [{"storage": "cats", "access": list(kinds)}]
            issued = token_issue(name=f"{admin}-{kinds}", admin=admin, grants=grants)
            secret_hash = hash_secret(issued.secret)
            row = token_lookup(secret_hash=secret_hash, storage_name="cats")
            principal = Principal(token_id=issued.token.id, name="p", admin=admin)
            for needed in NEEDED:
                answers[admin, kinds, needed] = (
                    _in_sql(secret_hash, storage, needed),
                    may_access(row, "cats", *needed),
                    may_access(principal, "cats", *needed),  # grants read by access_load
                )

    assert len(answers) == 2 * 9 * 6
    assert {key: found for key, found in answers.items() if len(set(found)) > 1} == {}
    # And the rule is the one documented: admin everything, a client its grant.
    assert answers[False, ("read",), ("read",)][0] is True
    assert answers[False, ("read",), ("write", "read")][0] is False
    assert answers[False, ("read", "write"), ("write", "read")][0] is True
    assert answers[False, (), ("any",)][0] is False
    assert answers[False, ("manage",), ("any",)][0] is True
    assert answers[False, GRANT_KINDS, ("admin",)][0] is False
    assert all(answers[True, None, needed][0] for needed in NEEDED)


def test_without_a_storage_only_any_lets_a_client_token_in():
    client = Principal(token_id=1, name="c", admin=False)

    assert may_access(client, None, "any") is True
    assert [may_access(client, None, need) for need in ("read", "write", "admin")] == [0, 0, 0]
    assert may_access(Principal(token_id=2, name="a", admin=True), None, "admin") is True


def test_grant_columns_decode_in_order_and_no_grant_is_nothing():
    assert grant_decode([True, False, True]) == ("read", "manage")
    assert grant_decode([None, None, None]) == ()
    assert grant_decode(()) == ()
    with pytest.raises(ValueError, match="zip"):
        grant_decode([True])


@pytest.mark.django_db
def test_is_active_and_the_lookup_agree_on_every_lifetime():
    now = timezone.now()
    hour = datetime.timedelta(hours=1)
    lifetimes = {
        "forever": None,
        "expires later": now + hour,
        "expired": now - hour,
    }
    seen = {}
    for name, expires_at in lifetimes.items():
        for revoked in (False, True):
            issued = token_issue(name=name, expires_at=expires_at)
            if revoked:
                token_revoke(token_id=issued.token.id)
            token = ApiToken.objects.get(pk=issued.token.id)
            found = token_lookup(secret_hash=hash_secret(issued.secret), storage_name=None)
            seen[name, revoked] = (token.is_active, found is not None)

    assert {key: pair for key, pair in seen.items() if pair[0] != pair[1]} == {}
    assert [key for key, (active, _) in seen.items() if active] == [
        ("forever", False),
        ("expires later", False),
    ]
