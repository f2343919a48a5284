"""Fixtures of the access tests: real storages, and API clients holding client tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from access.services import token_issue
from factory.tests.factories import dogs_definition

CATS = {
    "name": "cats",
    "fields": [{"name": "name", "type": "text", "required": True}],
}


@pytest.fixture
def dogs_and_cats(create_storage) -> None:
    create_storage(dogs_definition())
    create_storage(CATS)


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def client_with() -> Callable[..., APIClient]:
    """An API client holding a new client token: `client_with(read=["dogs"], write=[...])`."""

    def make(**kinds: list[str]) -> APIClient:
        access: dict[str, list[str]] = {}
        for kind, storages in kinds.items():
            for storage in storages:
                access.setdefault(storage, []).append(kind)
        grants = [{"storage": storage, "access": kinds} for storage, kinds in access.items()]
        return bearer(token_issue(name="pipeline", grants=grants).secret)

    return make
