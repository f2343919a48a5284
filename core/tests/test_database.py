"""core.database: prepared statements survive a table dropped and created again."""

from __future__ import annotations

import pytest

from factory.services.storages import storage_delete
from factory.tests.factories import dogs_definition

URL = "/api/v1/storage/dogs/"


def _with_age(kind: str) -> dict:
    definition = dogs_definition()
    for spec in definition["fields"]:
        if spec["name"] == "age":
            spec.clear()
            spec.update({"name": "age", "type": kind, "nullable": True})
    return definition


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_storage_declared_again_with_other_types_is_served_at_once(api_client, create_storage):
    create_storage(_with_age("integer"))
    api_client.post(
        URL, {"name": "Rex", "age": 3, "registered_at": "2024-05-01T12:00:00Z"}, format="json"
    )
    # Enough reads for every pooled connection to prepare the list statement.
    for _ in range(30):
        assert api_client.get(f"{URL}?limit=5").status_code == 200
    storage_delete(name="dogs", if_match="*")
    create_storage(_with_age("text"))
    api_client.post(
        URL, {"name": "Rex", "age": "old", "registered_at": "2024-05-01T12:00:00Z"}, format="json"
    )

    answers = [api_client.get(f"{URL}?limit=5") for _ in range(10)]

    assert [answer.status_code for answer in answers] == [200] * 10
    assert answers[-1].json()["results"][0]["age"] == "old"
