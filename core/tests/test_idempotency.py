"""Idempotency-Key on POST to a storage: applied once, replayed, bound to one request."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from core import idempotency
from core.errors import IdempotencyKeyReused
from core.models import IdempotencyKey
from core.testing import storage_db
from factory.schema import ddl
from factory.schema.names import table_name
from storage.runtime import runtime_for

NOTES = "/api/v1/storage/notes/"
OTHER = "/api/v1/storage/other/"
PROBLEM = "application/problem+json"
NOTE_DEFINITION = {"name": "notes", "fields": [{"name": "text", "type": "text", "required": True}]}


@pytest.fixture
def notes(create_storage) -> Iterator[None]:
    """The `notes` storage; its table is dropped after a transactional test (a flush
    empties Django's tables only)."""
    create_storage(NOTE_DEFINITION)
    yield
    if not connection.in_atomic_block:
        with ddl.schema_transaction() as editor:
            editor.execute(f"DROP TABLE IF EXISTS {editor.quote_name(table_name('notes'))}")


def _texts() -> list[str]:
    return sorted(runtime_for("notes").model.objects.values_list("text", flat=True))


def _post(client: Any, path: str, body: Any, key: str | None = None) -> Any:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(path, body, format="json", **headers)


@storage_db
def test_repeated_create_is_applied_once_and_replays_status_body_and_headers(api_client, notes):
    first = _post(api_client, NOTES, {"text": "hello"}, key="k-1")
    again = _post(api_client, NOTES, {"text": "hello"}, key="k-1")

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["ETag"] == first["ETag"] == '"1"'
    assert again["Idempotent-Replayed"] == "true"
    assert _texts() == ["hello"]


@storage_db
def test_repeated_bulk_create_is_applied_once(api_client, notes):
    body = [{"text": "a"}, {"text": "b"}, {"text": "c"}]
    first = _post(api_client, NOTES, body, key="bulk-1")
    again = _post(api_client, NOTES, body, key="bulk-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert [item["text"] for item in again.json()] == ["a", "b", "c"]
    assert again["Idempotent-Replayed"] == "true"
    assert _texts() == ["a", "b", "c"]


@storage_db
def test_requests_without_a_key_are_each_applied(api_client, notes):
    _post(api_client, NOTES, {"text": "same"})
    _post(api_client, NOTES, {"text": "same"})

    assert _texts() == ["same", "same"]
    assert IdempotencyKey.objects.count() == 0


@storage_db
def test_same_key_with_another_body_answers_409_and_writes_nothing(api_client, notes):
    _post(api_client, NOTES, {"text": "first"}, key="k-2")

    response = _post(api_client, NOTES, {"text": "second"}, key="k-2")

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "idempotency-key-reused",
        "title": "Idempotency key reused",
        "status": 409,
        "detail": "The Idempotency-Key 'k-2' was used for another request (other method, "
        "path or body) in the last 24 hours; use a new key for a new request.",
    }
    assert _texts() == ["first"]


@storage_db
def test_same_key_on_another_storage_answers_409(api_client, notes, create_storage):
    create_storage({**NOTE_DEFINITION, "name": "other"})
    _post(api_client, NOTES, {"text": "x"}, key="k-3")

    response = _post(api_client, OTHER, {"text": "x"}, key="k-3")

    assert response.status_code == 409
    assert response.json()["type"] == "idempotency-key-reused"
    assert runtime_for("other").model.objects.count() == 0


@storage_db
@pytest.mark.parametrize("key", ["", "k" * 201])
def test_a_key_of_0_or_over_200_characters_answers_400_and_writes_nothing(api_client, notes, key):
    response = _post(api_client, NOTES, {"text": "x"}, key=key)

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": "The request has invalid input; see errors.",
        "errors": {"Idempotency-Key": [f"Must be 1 to 200 characters long; got {len(key)}."]},
    }
    assert _texts() == []


@storage_db
def test_a_key_of_200_characters_is_accepted(api_client, notes):
    response = _post(api_client, NOTES, {"text": "x"}, key="k" * 200)

    assert response.status_code == 201
    assert IdempotencyKey.objects.get().key == "k" * 200


@storage_db
def test_a_failed_request_does_not_spend_its_key(api_client, notes):
    refused = _post(api_client, NOTES, {"text": None}, key="k-4")
    refused_again = _post(api_client, NOTES, {"text": None}, key="k-4")

    assert (refused.status_code, refused_again.status_code) == (400, 400)
    assert "Idempotent-Replayed" not in refused_again
    assert IdempotencyKey.objects.count() == 0
    # Nothing was written under the key, so a corrected request may use it.
    assert _post(api_client, NOTES, {"text": "fixed"}, key="k-4").status_code == 201
    assert _texts() == ["fixed"]


@storage_db
def test_keys_are_scoped_per_token(api_client, notes):
    from access.services import token_issue

    other = Client(headers={"Authorization": f"Bearer {token_issue(name='b', admin=True).secret}"})
    _post(api_client, NOTES, {"text": "x"}, key="shared")

    response = other.post(
        NOTES, {"text": "x"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert _texts() == ["x", "x"]


def _age(key: str, hours: float) -> None:
    IdempotencyKey.objects.filter(key=key).update(
        created_at=timezone.now() - datetime.timedelta(hours=hours)
    )


@storage_db
def test_a_key_older_than_24_hours_is_ignored_and_taken_over(api_client, notes):
    _post(api_client, NOTES, {"text": "yesterday"}, key="k-5")
    _age("k-5", 24.5)

    response = _post(api_client, NOTES, {"text": "today"}, key="k-5")
    again = _post(api_client, NOTES, {"text": "today"}, key="k-5")

    assert (response.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == response.json()
    assert _texts() == ["today", "yesterday"]
    assert IdempotencyKey.objects.get(key="k-5").request_hash == idempotency.request_hash(
        method="POST", path=NOTES, body=b'{"text":"today"}'
    )


@storage_db
def test_prune_command_deletes_keys_older_than_24_hours_only(api_client, notes, capsys):
    for key in ("old-1", "old-2", "fresh"):
        _post(api_client, NOTES, {"text": key}, key=key)
    _age("old-1", 25)
    _age("old-2", 48)
    _age("fresh", 23)

    call_command("prune_idempotency_keys")

    assert capsys.readouterr().out == "2 idempotency key(s) pruned\n"
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@storage_db
def test_guarded_commits_now_and_then_prune_expired_keys(
    api_client, notes, monkeypatch, django_capture_on_commit_callbacks
):
    _post(api_client, NOTES, {"text": "old"}, key="old")
    _age("old", 30)
    monkeypatch.setattr(idempotency, "PRUNE_CHANCE", 1.0)

    with django_capture_on_commit_callbacks(execute=True):
        _post(api_client, NOTES, {"text": "new"}, key="new")

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db
def test_claim_and_record_serve_callers_with_their_own_transaction():
    """The halves a streaming endpoint (ingest) uses around its own writes."""
    hasher = idempotency.request_hasher(method="post", path="/api/v1/ingest/")
    for chunk in (b'{"a": 1}\n', b'{"a": 2}\n'):
        hasher.update(chunk)
    fingerprint = hasher.hexdigest()
    assert fingerprint == idempotency.request_hash(
        method="POST", path="/api/v1/ingest/", body=b'{"a": 1}\n{"a": 2}\n'
    )
    with transaction.atomic():
        assert idempotency.key_claim(token_id=7, key="i-1", fingerprint=fingerprint) is None
        idempotency.key_record(token_id=7, key="i-1", status=200, body={"events": 2})

    stored = idempotency.key_claim(token_id=7, key="i-1", fingerprint=fingerprint)

    assert stored == idempotency.StoredResponse(200, {"events": 2}, {})
    with pytest.raises(IdempotencyKeyReused):
        idempotency.key_claim(token_id=7, key="i-1", fingerprint="another request")


# --- a concurrent duplicate ---------------------------------------------------------------


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _wait_for(predicate: Callable[[], bool]) -> None:
    for _ in range(1000):
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("the condition never held")


class _Poster(threading.Thread):
    def __init__(self, token: str, body: dict[str, Any], key: str) -> None:
        super().__init__(daemon=True)
        self.token, self.body, self.key = token, body, key
        self.response: Any = None

    def run(self) -> None:
        try:
            client = Client(headers={"Authorization": f"Bearer {self.token}"})
            self.response = client.post(
                NOTES, self.body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=self.key
            )
        finally:
            connections.close_all()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_waits_for_the_first_then_replays_it(admin_token, notes):
    """The first request is held inside its transaction (its INSERT waits on a table lock
    the test holds) after claiming the key; the duplicate must wait on the key's unique
    index, not write, and answer the first's result once it commits."""
    table = table_name("notes")
    first = _Poster(admin_token, {"text": "once"}, "race")
    duplicate = _Poster(admin_token, {"text": "once"}, "race")
    with connections["default"].cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
        first.start()
        _wait_for(lambda: _waiting_on_locks() == 1)
        duplicate.start()
        _wait_for(lambda: _waiting_on_locks() == 2)
        cursor.execute("COMMIT")
    first.join(timeout=30)
    duplicate.join(timeout=30)

    assert first.response.status_code == 201
    assert "Idempotent-Replayed" not in first.response
    assert duplicate.response.status_code == 201
    assert duplicate.response["Idempotent-Replayed"] == "true"
    assert duplicate.response.json() == first.response.json()
    assert _texts() == ["once"]
