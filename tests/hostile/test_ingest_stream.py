"""NDJSON ingest against the production server (granian): a chunked body is ingested exactly
like the same body with Content-Length, and a body over MAX_INGEST_BYTES answers 413 and
writes nothing, whether its size is announced or only counted as it streams in (after
batches were already written: they are rolled back)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import orjson
import pytest

from storage.runtime import runtime_for
from tests.reliability.conftest import make_storage, processes  # noqa: F401 - fixtures
from tests.reliability.support import CLIENT_TIMEOUT, PROBLEM, Reply, Server

pytestmark = [pytest.mark.postgresql]

INGEST = "/api/v1/ingest/"
LIMIT = 64 * 1024
FEED = {
    "name": "hostile_feed",
    "fields": [{"name": "n", "type": "integer"}, {"name": "text", "type": "text"}],
    "source": {
        "match": {"path": "/kind", "equals": "feed"},
        "map": {"n": "/n", "text": "/text"},
    },
}


def body(events: int) -> bytes:
    return b"".join(
        orjson.dumps({"kind": "feed" if n % 4 else "other", "n": n, "text": "x" * 200}) + b"\n"
        for n in range(events)
    )


def blocks(data: bytes, size: int = 8 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def post_ndjson(port: int, token: str, data: bytes, *, chunked: bool) -> Reply:
    """POST NDJSON with Content-Length, or chunked (http.client sends an iterable body with
    Transfer-Encoding: chunked and no length)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    if not chunked:
        headers["Content-Length"] = str(len(data))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("POST", INGEST, body=blocks(data) if chunked else data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return Reply(
        response.status,
        {name.lower(): value for name, value in response.getheaders()},
        json.loads(raw) if raw else None,
    )


def stored() -> int:
    return runtime_for(FEED["name"]).model.objects.count()


@pytest.fixture
def server(processes, make_storage):  # noqa: F811 - the fixtures imported above
    make_storage(FEED)
    # Small batches, so that records are written long before the limit is reached.
    return Server(
        processes, WEB_CONCURRENCY="1", MAX_INGEST_BYTES=str(LIMIT), INGEST_BATCH_BYTES="2048"
    ).start()


def test_chunked_ndjson_is_ingested_like_the_same_body_with_a_length(server, admin_token):
    data = body(100)
    assert len(data) < LIMIT

    announced = post_ndjson(server.port, admin_token, data, chunked=False)
    streamed = post_ndjson(server.port, admin_token, data, chunked=True)

    assert announced.status == 200, announced.body
    assert announced.body == {
        "events": 100,
        "unmatched": 25,
        "storages": {
            FEED["name"]: {
                "written": 75,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
                "stale": 0,
                "deleted": 0,
                "rejected": [],
            }
        },
    }
    assert (streamed.status, streamed.body) == (200, announced.body)
    assert stored() == 150


@pytest.mark.parametrize("chunked", [False, True], ids=["announced", "chunked"])
def test_ndjson_over_max_ingest_bytes_answers_413_and_writes_nothing(server, admin_token, chunked):
    data = body(600)
    assert len(data) > 1.5 * LIMIT

    reply = post_ndjson(server.port, admin_token, data, chunked=chunked)

    assert reply.status == 413
    assert reply.headers["content-type"] == PROBLEM
    assert reply.body == {
        "type": "payload-too-large",
        "title": "Payload too large",
        "status": 413,
        "detail": f"The request body exceeds the limit of {LIMIT} bytes.",
    }
    assert stored() == 0
    # The worker goes on serving: the next body within the limit is ingested.
    assert post_ndjson(server.port, admin_token, body(8), chunked=chunked).status == 200
    assert stored() == 6
