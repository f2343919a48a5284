"""storage.docs_views: Swagger UI and ReDoc list the global document and each storage's
contract the signed-in person may read, pick one with ?storage=, and load nothing from
anywhere but this server."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access.models import UserGrant
from access.tests.conftest import CATS
from core.testing import storage_db
from factory.models import StorageDefinition
from factory.tests.factories import dogs_definition

pytestmark = [storage_db]

GLOBAL = {"name": "datastorage API (all endpoints)", "url": "/api/v1/schema/"}


@pytest.fixture(autouse=True)
def _storages(create_storage) -> None:
    create_storage(dogs_definition())
    create_storage(CATS)


def swagger_settings(client: Client, query: str = "") -> dict:
    page = client.get(f"/api/docs/{query}").content.decode()
    return json.loads(re.search(r"const swaggerSettings = (\{.*?\});\n", page, re.S).group(1))


def signed_in(*, superuser: bool) -> Client:
    users = get_user_model().objects
    user = (users.create_superuser if superuser else users.create_user)("ann", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_visitors_get_the_global_document_and_a_way_to_sign_in():
    client = Client()

    settings = swagger_settings(client)
    page = client.get("/api/docs/").content.decode()

    assert settings["urls"] == [GLOBAL]
    assert settings["urls.primaryName"] == GLOBAL["name"]
    assert settings["validatorUrl"] is None
    assert 'href="/admin/login/?next=/api/docs/"' in page


def test_an_admin_gets_every_contract_and_storage_picks_one():
    settings = swagger_settings(signed_in(superuser=True), "?storage=dogs")

    assert settings["urls"] == [
        GLOBAL,
        {"name": "cats", "url": "/api/v1/factory/storage/cats/schema/"},
        {"name": "dogs", "url": "/api/v1/factory/storage/dogs/schema/"},
    ]
    assert settings["urls.primaryName"] == "dogs"


def test_a_staff_user_gets_the_contracts_of_their_grants_only():
    client = signed_in(superuser=False)
    UserGrant.objects.create(
        user=get_user_model().objects.get(username="ann"),
        storage=StorageDefinition.objects.get(name="cats"),
        read=True,
    )

    settings = swagger_settings(client, "?storage=dogs")
    redoc = client.get("/api/redoc/?storage=cats").content.decode()
    contract = client.get("/api/v1/factory/storage/cats/schema/")

    assert [document["name"] for document in settings["urls"]] == [GLOBAL["name"], "cats"]
    assert settings["urls.primaryName"] == GLOBAL["name"]  # not theirs: the global one
    assert '<option value="/api/v1/factory/storage/cats/schema/" selected>cats</option>' in redoc
    assert "dogs" not in redoc
    assert contract.status_code == 200


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_pages_load_nothing_from_elsewhere(path):
    page = signed_in(superuser=True).get(path).content.decode()

    external = re.findall(r"""(?:src|href)=["']?(?:https?:)?//[^"' >]+""", page)
    assert external == []
    assert "fonts.googleapis" not in page
