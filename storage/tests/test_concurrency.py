"""Optimistic locking under real concurrency: threads, each with its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

COUNTERS = "/api/v1/storage/counters/"
THREADS = 20


@pytest.fixture
def new_client(admin_token: str) -> Callable[[], Client]:
    """A fresh test client per thread, authenticated with the admin token."""
    return lambda: Client(headers={"Authorization": f"Bearer {admin_token}"})


@pytest.fixture
def counter(create_storage, new_client) -> str:
    create_storage(
        {
            "name": "counters",
            "fields": [
                {"name": "label", "type": "text"},
                {"name": "value", "type": "integer", "nullable": False, "default": 0},
            ],
        }
    )
    response = new_client().post(COUNTERS, {"label": "start"}, content_type="application/json")
    assert response.status_code == 201
    return f"{COUNTERS}{response.json()['id']}/"


def _run_together(work: Callable[[int, Client], Any], new_client: Callable[[], Client]) -> list:
    """Run `work(n, client)` in THREADS threads released at once; return their results."""
    barrier = threading.Barrier(THREADS, timeout=30)
    results: list[Any] = [None] * THREADS
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            client = new_client()
            barrier.wait()
            results[n] = work(n, client)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    return results


def test_twenty_patches_of_the_same_version_let_exactly_one_win(counter, new_client):
    def patch(n: int, client: Client) -> tuple[int, dict]:
        response = client.patch(
            counter, {"label": f"writer {n}"}, content_type="application/json", HTTP_IF_MATCH='"1"'
        )
        return response.status_code, response.json()

    results = _run_together(patch, new_client)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [412] * (THREADS - 1)
    (winner,) = [body for status, body in results if status == 200]
    assert winner["_version"] > 1  # drawn from the storage's counter: not always 2
    for status, body in results:
        if status == 412:
            assert body == {
                "type": "precondition-failed",
                "title": "Precondition failed",
                "status": 412,
                "detail": body["detail"],
                "current_version": winner["_version"],
            }
            assert body["detail"].endswith(
                f" at version {winner['_version']}; re-read it and retry."
            )
    assert new_client().get(counter).json() == winner


def test_twenty_clients_incrementing_with_retry_on_412_count_to_twenty(counter, new_client):
    def increment(n: int, client: Client) -> int:
        for attempt in range(1, 500):
            current = client.get(counter).json()
            response = client.patch(
                counter,
                {"value": current["value"] + 1},
                content_type="application/json",
                HTTP_IF_MATCH=f'"{current["_version"]}"',
            )
            if response.status_code == 200:
                return attempt
            assert response.status_code == 412, response.json()
        raise AssertionError(f"client {n} never got its increment in")

    attempts = _run_together(increment, new_client)

    stored = new_client().get(counter).json()
    assert stored["value"] == THREADS
    assert stored["_version"] >= THREADS + 1  # strictly increasing, not consecutive
    assert all(isinstance(count, int) for count in attempts)


def test_bulk_writers_while_the_storage_is_deleted_never_get_a_500(new_client, create_storage):
    """Issue 15: deleting a storage under bulk writes answered 500 (a relation opened by
    OID after its drop; a NULL serial sequence). Now 404 or 503, and nothing half-done."""
    from factory.services.storages import storage_delete

    create_storage({"name": "feed", "fields": [{"name": "n", "type": "integer"}]})
    started = threading.Event()

    def work(n: int, client: Client) -> list[int]:
        if n == 0:
            started.wait(timeout=10)
            storage_delete(name="feed", if_match="*")
            return []
        statuses = []
        for _ in range(15):
            response = client.post(
                "/api/v1/storage/feed/",
                [{"n": i} for i in range(300)],
                content_type="application/json",
            )
            started.set()
            statuses.append(response.status_code)
            if response.status_code == 404:
                break
        return statuses

    results = _run_together(work, new_client)

    statuses = [status for got in results for status in got]
    assert 500 not in statuses
    assert set(statuses) <= {201, 404, 503}
    assert 404 in statuses  # the storage went away under the writers
