"""factory.admin: read-only pages for storages and their versions."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import DatabaseError
from django.utils.html import escape

from core.testing import storage_db
from factory.models import StorageDefinition, StorageVersion
from factory.schema import ddl
from factory.services.storages import StorageCreationFailed
from factory.tests.factories import dogs_definition

pytestmark = storage_db

STORAGES = "/admin/factory/storagedefinition/"
VERSIONS = "/admin/factory/storageversion/"


@pytest.fixture
def dogs(create_storage) -> StorageDefinition:
    return create_storage(dogs_definition())


@pytest.fixture
def failed_cats(create_storage) -> StorageDefinition:
    real = ddl.create_table

    def failing(editor, model):
        real(editor, model)
        raise DatabaseError("disk full")

    with (
        mock.patch("factory.schema.ddl.create_table", side_effect=failing),
        pytest.raises(StorageCreationFailed),
    ):
        create_storage(dogs_definition(name="cats"))
    return StorageDefinition.objects.get(name="cats")


def test_storage_changelist_lists_name_version_and_status(admin_client, dogs, failed_cats):
    response = admin_client.get(STORAGES)

    content = response.content.decode()
    assert response.status_code == 200
    assert f'href="{STORAGES}{dogs.pk}/change/"' in content
    assert f'href="{STORAGES}{failed_cats.pk}/change/"' in content
    assert '<td class="field-status">Ready</td>' in content
    assert '<td class="field-status">Failed</td>' in content


def test_storage_changelist_can_be_searched_and_filtered(admin_client, dogs, failed_cats):
    searched = admin_client.get(STORAGES, {"q": "cats"})
    filtered = admin_client.get(STORAGES, {"status__exact": "ready"})

    assert searched.status_code == 200
    assert list(searched.context["cl"].result_list) == [failed_cats]
    assert filtered.status_code == 200
    assert list(filtered.context["cl"].result_list) == [dogs]


def test_storage_page_shows_the_storage_and_its_versions_read_only(admin_client, dogs):
    response = admin_client.get(f"{STORAGES}{dogs.pk}/change/")

    content = response.content.decode()
    assert response.status_code == 200
    assert "Dogs out of the animal registry feed" in content
    assert f'href="{VERSIONS}{dogs.versions.get().pk}/change/"' in content
    assert 'name="_save"' not in content
    assert response.context["has_change_permission"] is False


def test_storage_page_shows_the_definition_as_tables_with_status_count_and_links(
    admin_client, create_storage, api_client
):
    definition = dogs_definition(
        source={
            "match": {
                "all": [{"path": "/kind", "equals": "dog"}, {"path": "/gone", "exists": False}]
            },
            "map": {"name": "/name", "registered_at": "/at"},
        }
    )
    dogs = create_storage(definition)
    for name in ("Rex", "Ada"):
        created = api_client.post(
            "/api/v1/storage/dogs/",
            {"name": name, "registered_at": "2024-05-01T12:00:00Z"},
            format="json",
        )
        assert created.status_code == 201

    content = admin_client.get(f"{STORAGES}{dogs.pk}/change/").content.decode()

    assert "<td>weight_kg</td><td>decimal</td><td>no</td><td>yes</td><td></td>" in content
    assert "<td>decimal_places 2, max_digits 6</td>" in content
    assert (
        "<td>age</td><td>integer</td><td>no</td><td>yes</td><td>0</td><td>max 40, min 0</td>"
        in content
    )
    assert "<td>name, born</td><td>btree</td><td>yes</td>" in content
    assert "all of<ul><li><code>/kind</code> equals &quot;dog&quot;</li>" in content
    assert "<td>registered_at</td><td>/at</td>" in content
    assert '<p class="storage-ready">version 1: ready; serving version 1</p>' in content
    assert '<div class="readonly">2</div>' in content  # the record count
    assert '<a class="storage-records" href="/api/v1/storage/dogs/">Records</a>' in content
    assert '<a class="storage-contract" href="/api/docs/?storage=dogs">' in content
    assert "<td>distribution</td><td>one table</td>" in content
    assert "<td>partitions</td><td>none</td>" in content
    assert "{&quot;" not in content  # no JSON blob on the storage's page


@pytest.mark.postgresql
def test_storage_page_shows_its_partitions_and_retention(admin_client, create_storage):
    definition = {
        "name": "clicks",
        "fields": [{"name": "at", "type": "datetime", "required": True}],
        "partition": {"field": "at", "interval": "day"},
        "retention": {"field": "at", "keep": "P30D"},
    }
    clicks = create_storage(definition)

    content = admin_client.get(f"{STORAGES}{clicks.pk}/change/").content.decode()

    assert "<td>partitions</td><td>by day of at</td>" in content
    assert "<td>retention</td><td>keeps P30D by at</td>" in content


def test_failed_storage_page_shows_the_reason(admin_client, failed_cats):
    response = admin_client.get(f"{STORAGES}{failed_cats.pk}/change/")

    assert response.status_code == 200
    assert "disk full" in response.content.decode()


def test_version_changelist_lists_each_version(admin_client, dogs, failed_cats):
    response = admin_client.get(VERSIONS)

    content = response.content.decode()
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == set(StorageVersion.objects.all())
    for version in StorageVersion.objects.all():
        assert f'href="{VERSIONS}{version.pk}/change/"' in content


def test_version_page_shows_the_definition_read_only(admin_client, dogs):
    version = dogs.versions.get()

    response = admin_client.get(f"{VERSIONS}{version.pk}/change/")

    content = response.content.decode()
    assert response.status_code == 200
    assert escape(json.dumps(version.definition, indent=2)) in content
    assert "create storage" in content
    assert '<table class="storage-fields">' in content
    assert 'name="_save"' not in content


def test_admin_cannot_add_or_delete_storages(admin_client, dogs):
    assert admin_client.get(f"{STORAGES}add/").status_code == 403
    assert admin_client.get(f"{VERSIONS}add/").status_code == 403
    assert admin_client.post(f"{STORAGES}{dogs.pk}/delete/", {"post": "yes"}).status_code == 403
    assert StorageDefinition.objects.filter(pk=dogs.pk).exists()


def test_unknown_admin_page_answers_404_not_500(admin_client):
    response = admin_client.get("/admin/factory/nowhere/")

    assert response.status_code == 404


def test_admin_pages_need_a_staff_login(client, dogs):
    response = client.get(STORAGES)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
