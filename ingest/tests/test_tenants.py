"""Ingest between tenants: two storages (alpha, beta), a token that owns each (write, and
manage on its own storage), and an admin token.

An event goes only to storages the sending token may write; a match elsewhere is skipped
and never named. Declaring or changing a source routes other producers' events, so it needs
an admin token: the owner of alpha cannot widen alpha's source to take beta's events.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from rest_framework.test import APIClient

from access.services import token_issue
from core.testing import storage_db
from factory.models import StorageDefinition
from storage.runtime import runtime_for

pytestmark = storage_db

INGEST = "/api/v1/ingest/"
FACTORY = "/api/v1/factory/storage/"
OWN = ["read", "write", "manage"]
EVERYTHING = {"path": "/id", "exists": True}
REFUSED_SOURCE = {
    "type": "permission-denied",
    "title": "Permission denied",
    "status": 403,
    "detail": "Declaring or changing a storage's source routes other producers' events into "
    "it; that needs an admin token. Removing the source does not.",
}


def tenant(name: str, match: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "fields": [{"name": "event_id", "type": "text"}, {"name": "body", "type": "text"}],
        "source": {
            "match": match or {"path": "/tenant", "equals": name},
            "map": {"event_id": "/id", "body": "/body"},
        },
    }


def event(tenant_name: str, number: int) -> dict[str, Any]:
    return {"tenant": tenant_name, "id": f"{tenant_name}-{number}", "body": "private"}


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def tenants(create_storage) -> dict[str, APIClient]:
    """alpha and beta, each fed by its own events; a client for each owner and the admin."""
    create_storage(tenant("alpha"))
    create_storage(tenant("beta"))
    secrets = {
        "alpha": token_issue(name="write-alpha", grants=[{"storage": "alpha", "access": OWN}]),
        "beta": token_issue(name="write-beta", grants=[{"storage": "beta", "access": OWN}]),
        "admin": token_issue(name="admin", admin=True),
    }
    return {who: client_for(issued.secret) for who, issued in secrets.items()}


def ingest(client: APIClient, *events: Any):
    return client.post(INGEST, list(events), format="json")


def stored(name: str) -> list[str]:
    return sorted(runtime_for(name).model.objects.values_list("event_id", flat=True))


def widen_alpha(client: APIClient, *, dry_run: bool = False):
    path = FACTORY + "alpha/" + ("?dry_run=true" if dry_run else "")
    return client.put(path, tenant("alpha", EVERYTHING), format="json", HTTP_IF_MATCH='"1"')


def test_each_owner_feeds_its_own_storage(tenants):
    alpha = ingest(tenants["alpha"], event("alpha", 1))
    beta = ingest(tenants["beta"], event("beta", 1))

    assert alpha.json() == {
        "events": 1,
        "unmatched": 0,
        "storages": {
            "alpha": {
                "written": 1,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
                "stale": 0,
                "deleted": 0,
                "rejected": [],
            }
        },
    }
    assert beta.json() == {
        "events": 1,
        "unmatched": 0,
        "storages": {
            "beta": {
                "written": 1,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
                "stale": 0,
                "deleted": 0,
                "rejected": [],
            }
        },
    }
    assert (stored("alpha"), stored("beta")) == (["alpha-1"], ["beta-1"])


def test_the_owner_of_alpha_cannot_widen_its_source(tenants):
    response = widen_alpha(tenants["alpha"])

    assert response.status_code == 403
    assert response.json() == REFUSED_SOURCE
    assert StorageDefinition.objects.get(name="alpha").version == 1
    # And beta's events still reach beta alone.
    ingest(tenants["beta"], event("beta", 1))
    ingest(tenants["admin"], event("beta", 2))
    assert (stored("alpha"), stored("beta")) == ([], ["beta-1", "beta-2"])


def test_a_dry_run_of_a_wider_source_is_refused_too(tenants):
    response = widen_alpha(tenants["alpha"], dry_run=True)

    assert (response.status_code, response.json()) == (403, REFUSED_SOURCE)


def test_an_admin_may_declare_a_wider_source(tenants):
    response = widen_alpha(tenants["admin"])

    assert (response.status_code, response.json()["changes"]) == (200, [{"op": "change_source"}])


def test_the_owner_may_change_the_rest_of_its_definition_and_remove_the_source(tenants):
    described = {**tenant("alpha"), "description": "alpha's own events"}
    without_source = {key: value for key, value in described.items() if key != "source"}
    owner = tenants["alpha"]

    changed = owner.put(FACTORY + "alpha/", described, format="json", HTTP_IF_MATCH='"1"')
    removed = owner.put(FACTORY + "alpha/", without_source, format="json", HTTP_IF_MATCH='"2"')

    assert (changed.status_code, removed.status_code) == (200, 200)
    assert "change_source" not in [change["op"] for change in changed.json()["changes"]]
    assert removed.json()["changes"] == [{"op": "change_source"}]
    assert ingest(owner, event("alpha", 1)).json()["unmatched"] == 1


def test_only_an_admin_may_create_a_storage_with_a_source(tenants):
    response = tenants["alpha"].post(FACTORY, tenant("gamma"), format="json")

    assert response.status_code == 403
    assert not StorageDefinition.objects.filter(name="gamma").exists()


def test_a_widened_source_never_takes_a_tenants_events_nor_refuses_them(tenants):
    """The attack of issue 15: alpha's source matches every event (here declared by the
    admin, as only an admin may now). beta's owner still ingests into beta, is not refused,
    and learns nothing of alpha."""
    assert widen_alpha(tenants["admin"]).status_code == 200

    response = ingest(tenants["beta"], event("beta", 1), event("beta", 2))

    assert response.status_code == 200
    assert response.json() == {
        "events": 2,
        "unmatched": 0,
        "storages": {
            "beta": {
                "written": 2,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
                "stale": 0,
                "deleted": 0,
                "rejected": [],
            }
        },
    }
    assert b"alpha" not in response.content
    assert (stored("alpha"), stored("beta")) == ([], ["beta-1", "beta-2"])


def test_a_match_only_on_a_storage_the_token_may_not_write_counts_as_unmatched(tenants):
    response = ingest(tenants["beta"], event("alpha", 1), event("beta", 1))

    assert response.status_code == 200
    assert response.json() == {
        "events": 2,
        "unmatched": 1,
        "storages": {
            "beta": {
                "written": 1,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
                "stale": 0,
                "deleted": 0,
                "rejected": [],
            }
        },
    }
    assert b"alpha" not in response.content
    assert stored("alpha") == []


def test_ndjson_from_one_tenant_skips_the_others_storage(tenants):
    events = [event(name, n) for n in range(3) for name in ("alpha", "beta")]
    body = b"".join(orjson.dumps(item) + b"\n" for item in events)

    response = tenants["alpha"].generic("POST", INGEST, body, content_type="application/x-ndjson")

    assert response.json() == {
        "events": 6,
        "unmatched": 3,
        "storages": {
            "alpha": {
                "written": 3,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
                "stale": 0,
                "deleted": 0,
                "rejected": [],
            }
        },
    }
    assert stored("beta") == []


def test_an_admins_events_reach_every_storage_they_match(tenants):
    response = ingest(tenants["admin"], event("alpha", 1), event("beta", 1))

    assert response.json()["storages"] == {
        "alpha": {
            "written": 1,
            "updated": 0,
            "unchanged": 0,
            "skipped": 0,
            "stale": 0,
            "deleted": 0,
            "rejected": [],
        },
        "beta": {
            "written": 1,
            "updated": 0,
            "unchanged": 0,
            "skipped": 0,
            "stale": 0,
            "deleted": 0,
            "rejected": [],
        },
    }
