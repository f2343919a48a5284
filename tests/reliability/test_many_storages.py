"""Many storages, traffic spread over all of them, a model cache of 50.

A worker keeps at most MODEL_CACHE_SIZE compiled storage versions (least recently used
are dropped), so its memory has a cap whatever the number of storages; every storage must
still answer correctly, whether its model is cached or compiled again, and the list of
storages stays paginated. (bench/soak.py and docs/operations.md give the memory figures.)
"""

from __future__ import annotations

import random

import pytest

from factory.models import StorageDefinition
from storage import runtime

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability, pytest.mark.django_db]

STORAGES = 300
CACHE_SIZE = 50


def definition(number: int) -> dict:
    # Two shapes, so that a storage answered with another's model would show.
    if number % 2:
        return {"name": f"s{number:04d}", "fields": [{"name": "label", "type": "text"}]}
    return {
        "name": f"s{number:04d}",
        "primary_key": {"name": "code", "type": "text"},
        "fields": [{"name": "size", "type": "integer"}],
    }


def record(number: int, round_: int) -> tuple[dict, str]:
    """The body to post to storage `number`, and the key it will be read back with."""
    if number % 2:
        return {"label": f"s{number}-r{round_}"}, ""
    return {"code": f"c{number}-r{round_}", "size": number * 10 + round_}, f"c{number}-r{round_}"


def test_the_model_cache_stays_bounded_and_answers_stay_right(
    api_client, create_storage, settings, django_assert_max_num_queries
):
    settings.MODEL_CACHE_SIZE = CACHE_SIZE
    runtime.clear_runtimes()
    for number in range(STORAGES):
        create_storage(definition(number))
    order = list(range(STORAGES))
    random.Random(10).shuffle(order)
    wrong = []
    for round_ in range(2):
        if round_:
            order.reverse()  # the first storages of this round are still cached, not the rest
        for number in order:
            path = f"/api/v1/storage/s{number:04d}/"
            body, key = record(number, round_)
            created = api_client.post(path, body, format="json")
            key = key or str(created.json().get("id"))
            read = api_client.get(f"{path}{key}/")
            # The storage's second record (second round) has the counter's next version.
            expected = {**body, "_version": round_ + 1}
            if created.status_code != 201 or read.status_code != 200:
                wrong.append((number, created.status_code, read.status_code))
            elif {k: read.json().get(k) for k in expected} != expected:
                wrong.append((number, read.json()))
            assert len(runtime._runtimes) <= CACHE_SIZE

    assert wrong == []
    # The most recently used storages are the ones kept (the end of the last round).
    recent = StorageDefinition.objects.filter(
        name__in=[f"s{number:04d}" for number in order[-CACHE_SIZE:]]
    ).values_list("id", "serving_version")
    assert all(key in runtime._runtimes for key in recent)
    assert len(runtime._runtimes) == CACHE_SIZE
    with django_assert_max_num_queries(3):
        page = api_client.get("/api/v1/factory/storage/?page=2").json()
    assert page["count"] == STORAGES
    assert [item["name"] for item in page["results"]] == [f"s{n:04d}" for n in range(100, 200)]
    assert page["next"].endswith("/api/v1/factory/storage/?page=3")
