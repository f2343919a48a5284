"""Upgrading to the per-storage version counter (factory migration 0003) keeps every
version a record holds from being given again.

Tables made before it counted `_version` per record from 1, with no counter. The test
takes the migration back (which leaves a table as it was before), gives the records the
versions an older server would have, and applies it again: the next write of every kind
gets a version above the table's highest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from factory.services.storages import storage_create, storage_delete
from storage.runtime import clear_runtimes, runtime_for

BEFORE = [("factory", "0002_worker_heartbeat")]
# Up to the latest migration: the code under test reads what later ones add.
AFTER = None
NAME = "upgraded_dogs"

# Migrations run outside the test's transaction, as `manage.py migrate` does.
pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets: list[tuple[str, str]] | None) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.fixture
def upgraded(api_client) -> Iterator[str]:
    storage_create(data={"name": NAME, "fields": [{"name": "name", "type": "text"}]})
    path = f"/api/v1/storage/{NAME}/"
    for name in ("Rex", "Fido", "Luna"):
        assert api_client.post(path, {"name": name}, format="json").status_code == 201
    migrate(BEFORE)  # the table as an older server left it: no counter
    model = runtime_for(NAME).model
    model.objects.filter(name="Rex").update(_version=9)  # updated eight times back then
    migrate(AFTER)
    clear_runtimes()
    yield path
    storage_delete(name=NAME, if_match='"1"')


def test_versions_after_the_upgrade_start_above_the_highest_one_held(api_client, upgraded):
    created = api_client.post(upgraded, {"name": "Bella"}, format="json")
    bulk = api_client.post(upgraded, [{"name": "Max"}, {"name": "Nala"}], format="json")
    fido = api_client.get(upgraded, {"name": "Fido"}).json()["results"][0]
    updated = api_client.patch(
        f"{upgraded}{fido['id']}/", {"name": "Fido II"}, format="json", HTTP_IF_MATCH='"2"'
    )

    assert created.status_code == 201
    assert bulk.status_code == 201
    assert updated.status_code == 200, updated.content
    versions = [created.json()["_version"], *(r["_version"] for r in bulk.json())]
    versions.append(updated.json()["_version"])
    assert min(versions) > 9
    assert len(set(versions)) == len(versions)
