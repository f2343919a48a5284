"""The change feed's guarantee under real concurrency: a consumer that follows the feed
while eight writers write (creates one by one and in bulk, PATCHes, DELETEs, transactions
that commit late, an ingest stream) ends with exactly the table's contents. A skipped
commit shows as a record missing from the copy, or a deleted one kept in it.

bench/feed.py runs the same with more writers for longer."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

from factory.services.storages import storage_create
from storage.runtime import runtime_for
from storage.services import record_bulk_create

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

PETS = "/api/v1/storage/pets/"
DEFINITION = {
    "name": "pets",
    "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "age", "type": "integer", "default": 0},
    ],
    "source": {
        "match": {"path": "/kind", "equals": "pet"},
        "map": {"name": "/name", "age": "/age"},
    },
}
# The same storage sharded across the Citus cluster of `make test-citus` (tests/cluster):
# writes to several workers commit there after the coordinator (storage.sql.changes).
DISTRIBUTED = {**DEFINITION, "distribution": {"shards": 4}}
SECONDS = 2.5
RUNS = 3


def _writer(client: Client, stop: threading.Event, seed: int) -> None:
    """Creates, PATCHes and DELETEs at random among the records it made."""
    rng = random.Random(seed)
    mine: dict[int, int] = {}
    while not stop.is_set():
        roll = rng.random()
        if roll < 0.4 or not mine:
            body: Any = {"name": f"w{seed}", "age": rng.randrange(50)}
            if rng.random() < 0.3:
                body = [{"name": f"b{seed}", "age": n} for n in range(rng.randrange(2, 20))]
            response = client.post(PETS, body, content_type="application/json")
            created = response.json()
            for record in created if isinstance(created, list) else [created]:
                mine[record["id"]] = record["_version"]
        elif roll < 0.75:
            key = rng.choice(list(mine))
            response = client.patch(
                f"{PETS}{key}/", {"age": rng.randrange(50)}, content_type="application/json",
                headers={"If-Match": f'"{mine[key]}"'},
            )  # fmt: skip
            if response.status_code == 200:
                mine[key] = response.json()["_version"]
        else:
            key = rng.choice(list(mine))
            client.delete(f"{PETS}{key}/")
            del mine[key]


def _late_committer(stop: threading.Event, seed: int) -> None:
    """Transactions that take their positions early and commit late: the case that a
    clock-ordered cursor loses."""
    rng = random.Random(seed)
    runtime = runtime_for("pets")
    try:
        while not stop.is_set():
            with transaction.atomic():
                rows = record_bulk_create(runtime=runtime, items=[{"name": "late", "age": 1}] * 3)
                runtime.update_by_key.run(
                    key=rows[0].pk, versions=None, values={"age": 2}, updated_at=timezone.now()
                )
                time.sleep(rng.uniform(0.05, 0.3))
    finally:
        connections.close_all()


def _ingester(client: Client, stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        events = b"\n".join(
            orjson.dumps({"kind": "pet", "name": f"i{n}-{i}", "age": i}) for i in range(50)
        )
        client.post("/api/v1/ingest/", events, content_type="application/x-ndjson")
        n += 1


def _follow(
    client: Client, url: str, copy: dict[int, dict], until: float = float("inf")
) -> tuple[str, int]:
    """The feed from `url` until an empty page (or `until`, by the monotonic clock);
    returns the cursor URL and the entries seen."""
    seen = 0
    while time.monotonic() < until:
        page = client.get(url, {"limit": 7} if "?" not in url else {}).json()
        for entry in page["results"]:
            if entry.get("_deleted"):
                copy.pop(entry["id"], None)
            else:
                copy[entry["id"]] = {k: v for k, v in entry.items() if k != "_position"}
        seen += len(page["results"])
        url = page["next"]
        if not page["results"]:
            break
    return url, seen


def _threads(
    targets: list[Callable[[], None]], failures: list[BaseException]
) -> list[threading.Thread]:
    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=guarded(target)) for target in targets]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.parametrize(
    "definition",
    [
        pytest.param(DEFINITION, id="table"),
        pytest.param(DISTRIBUTED, id="distributed", marks=pytest.mark.citus),
    ],
)
@pytest.mark.parametrize("run", range(RUNS))
def test_a_follower_ends_with_exactly_the_table_under_eight_writers(admin_token, run, definition):
    storage_create(data=definition)
    headers = {"Authorization": f"Bearer {admin_token}"}
    stop = threading.Event()
    writers = [lambda n=n: _writer(Client(headers=headers), stop, run * 100 + n) for n in range(5)]
    writers += [lambda n=n: _late_committer(stop, run * 100 + n) for n in range(2)]
    writers.append(lambda: _ingester(Client(headers=headers), stop))
    failures: list[BaseException] = []
    threads = _threads(writers, failures)

    consumer = Client(headers=headers)
    copy: dict[int, dict] = {}
    url, seen = f"{PETS}changes/", 0
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:  # following while they write
        url, count = _follow(consumer, url, copy, deadline)
        seen += count
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    seen += _follow(consumer, url, copy)[1]

    table = {
        row["id"]: row
        for row in runtime_for("pets").model.objects.values("id", "name", "age", "_version")
    }
    mirrored = {
        key: {name: entry[name] for name in ("id", "name", "age", "_version")}
        for key, entry in copy.items()
    }
    assert failures == []
    assert seen >= len(table) > 0
    assert mirrored == table
