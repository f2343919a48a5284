"""Ingest memory follows the batch, not the body: records are written as batches fill, in
the request's transaction; a duplicate rejects its event alone, a limit passed
mid-stream still writes nothing, and an NDJSON body has a total size limit."""

from __future__ import annotations

import io
from unittest import mock

import pytest

from core.testing import storage_db
from ingest import services
from ingest.tests.animals import cat, dog
from ingest.tests.test_views import (
    DUPLICATE_NAME,
    NDJSON,
    URL,
    counts,
    ndjson,
    post,
    post_ndjson,
    problem,
    report,
)

pytestmark = storage_db


@pytest.fixture
def writes():
    """The number of records of each write, in order."""
    sizes: list[int] = []
    real = services.record_bulk_insert

    def spy(*, runtime, rows, now):
        sizes.append(len(rows))
        return real(runtime=runtime, rows=rows, now=now)

    with mock.patch.object(services, "record_bulk_insert", spy):
        yield sizes


def too_large(limit: int) -> dict:
    return problem(
        413,
        "payload-too-large",
        "Payload too large",
        f"The request body exceeds the limit of {limit} bytes.",
    )


def chunked(body: bytes) -> dict:
    """A body without Content-Length, as granian hands it over (tests/hostile does too)."""
    return {
        "CONTENT_LENGTH": "",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
    }


def test_a_storage_is_written_each_time_its_batch_fills(api_client, animals, settings, writes):
    settings.MAX_BULK_ITEMS = 3

    response = post_ndjson(api_client, ndjson(*(dog(f"dog-{i}") for i in range(8)), cat("Tom")))

    assert response.json() == report(9, 0, cats=(1, []), dogs=(8, []))
    assert sorted(writes) == [1, 2, 3, 3]
    assert counts() == {"cats": 1, "dogs": 8}


def test_held_records_are_written_once_they_pass_ingest_batch_bytes(
    api_client, animals, settings, writes
):
    settings.INGEST_BATCH_BYTES = 1  # every record passes it: written at once

    response = post_ndjson(api_client, ndjson(dog("Rex"), cat("Tom"), dog("Fido")))

    assert response.json() == report(3, 0, cats=(1, []), dogs=(2, []))
    assert writes == [1, 1, 1]


def test_a_duplicate_in_a_later_batch_rejects_that_event_alone(
    api_client, animals, settings, writes
):
    settings.MAX_BULK_ITEMS = 2
    events = [dog("Rex"), dog("Fido"), cat("Tom"), dog("Spot"), dog("Rex"), dog("Late")]

    response = post(api_client, events)

    assert response.json() == report(
        6, 0, cats=(1, []), dogs=(4, [{"event": 4, "errors": DUPLICATE_NAME}])
    )
    # [Rex, Fido]; [Spot, Rex] clashed and was written in halves, [Spot] and [Rex] (which
    # clashed alone); then [Tom] and [Late] at the end
    assert writes == [2, 2, 1, 1, 1, 1]
    assert counts() == {"cats": 1, "dogs": 4}


def test_a_limit_passed_after_batches_were_written_writes_nothing(api_client, animals, settings):
    settings.MAX_BULK_ITEMS = 1
    settings.MAX_INGEST_EVENTS = 3

    response = post_ndjson(api_client, ndjson(dog("Rex"), cat("Tom"), dog("Fido"), dog("Spot")))

    assert response.status_code == 413
    assert counts() == {"cats": 0, "dogs": 0}


def test_an_ndjson_body_over_max_ingest_bytes_answers_413_and_writes_nothing(
    api_client, animals, settings
):
    body = ndjson(*(dog(f"dog-{i}") for i in range(40)))
    settings.MAX_INGEST_BYTES = len(body) - 1
    settings.MAX_BULK_ITEMS = 5  # batches are written before the limit is passed

    announced = post_ndjson(api_client, body)
    streamed = api_client.generic("POST", URL, body, content_type=NDJSON, **chunked(body))

    assert (announced.status_code, announced.json()) == (413, too_large(len(body) - 1))
    assert (streamed.status_code, streamed.json()) == (413, too_large(len(body) - 1))
    assert counts() == {"cats": 0, "dogs": 0}


def test_an_ndjson_body_of_exactly_max_ingest_bytes_is_accepted(api_client, animals, settings):
    body = ndjson(dog("Rex"), cat("Tom"))
    settings.MAX_INGEST_BYTES = len(body)

    announced = post_ndjson(api_client, body)

    assert announced.json() == report(2, 0, cats=(1, []), dogs=(1, []))


def test_chunked_ndjson_is_ingested_like_the_same_body_with_a_length(api_client, animals):
    body = ndjson(dog("Rex"), cat("Tom"), dog("Rex"))

    streamed = api_client.generic("POST", URL, body, content_type=NDJSON, **chunked(body))

    assert streamed.status_code == 200
    assert streamed.json() == report(
        3, 0, cats=(1, []), dogs=(1, [{"event": 2, "errors": DUPLICATE_NAME}])
    )
    assert counts() == {"cats": 1, "dogs": 1}
