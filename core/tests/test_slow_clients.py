"""core.slow_clients: export slots that are never leaked, and the capped chunked input."""

from __future__ import annotations

import io

import pytest

from core import errors
from core.slow_clients import CappedInput, HeldWhileStreaming, take_slot
from core.testing import storage_db


@pytest.fixture
def one_slot(settings):
    settings.EXPORT_CONCURRENCY = 1  # the setting_changed hook makes a fresh semaphore


def test_a_slot_taken_twice_answers_server_busy(one_slot):
    slot = take_slot()
    with pytest.raises(errors.ServerBusy):
        take_slot()
    slot.release()
    slot.release()  # idempotent: the second release gives nothing back twice
    again = take_slot()
    with pytest.raises(errors.ServerBusy):
        take_slot()
    again.release()


@pytest.mark.parametrize("how", ["closed-unstarted", "read-to-the-end", "failed"])
def test_a_streamed_answer_gives_its_slot_back_however_it_ends(one_slot, how):
    def chunks():
        yield b"a"
        if how == "failed":
            raise RuntimeError("the database went away")
        yield b"b"

    held = HeldWhileStreaming(chunks(), take_slot())
    if how == "closed-unstarted":
        held.close()  # the client left before the first chunk: a generator's finally
    elif how == "read-to-the-end":
        assert b"".join(held) == b"ab"
    else:
        with pytest.raises(RuntimeError):
            list(held)

    take_slot().release()  # free again


@storage_db
def test_an_export_without_a_free_slot_answers_503(one_slot, api_client, create_storage):
    create_storage({"name": "notes", "fields": [{"name": "note", "type": "text"}]})
    held = take_slot()
    try:
        response = api_client.get("/api/v1/storage/notes/?format=ndjson")
    finally:
        held.release()

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["type"] == "server-busy"
    assert api_client.get("/api/v1/storage/notes/?format=ndjson").status_code == 200


def test_a_chunked_body_past_its_limit_is_refused_as_it_arrives():
    body = CappedInput(io.BytesIO(b"x" * 10), limit=8)

    assert body.read(5) == b"xxxxx"
    with pytest.raises(errors.PayloadTooLarge):
        body.read(5)
    assert CappedInput(io.BytesIO(b"x" * 8), limit=8).read() == b"x" * 8
