"""Idempotency-Key: a retried write is applied at most once and answers the first result.

A client whose write got no answer (a timeout, a dropped connection, a 503 after the
commit) cannot know whether it was applied; sending it again with the same key is safe.
The key's row is inserted in the same transaction as the writes it guards and carries
their answer, so both commit or neither does. A duplicate sent while the first is still
running waits on the unique index until the first transaction ends, then replays its
answer (or, if the first failed and rolled back, takes the key over and writes).

Keys are scoped per token and live KEY_TTL; older rows are ignored, and deleted by
`manage.py prune_idempotency_keys` (and, now and then, after a commit).

`idempotent()` wraps a view's work. Callers that run their own transaction (streamed
ingest) use the halves: `key_claim()` then, after the writes, `key_record()`; both must run
inside that transaction.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core import json, metrics
from core.errors import IdempotencyKeyReused, ValidationFailed
from core.models import IdempotencyKey

logger = logging.getLogger("datastorage.idempotency")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
KEY_TTL = datetime.timedelta(hours=24)
# Headers of the original answer that a replay repeats.
KEPT_HEADERS = ("Location", "ETag", "Preference-Applied")
# After roughly one guarded commit in PRUNE_CHANCE⁻¹, delete up to PRUNE_BATCH expired
# keys: the table stays bounded even where nobody schedules the prune command.
PRUNE_CHANCE = 0.001
PRUNE_BATCH = 1000


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def idempotent(request: Request, produce: Callable[[], Response]) -> Response:
    """Run `produce` (the view's writes) at most once per Idempotency-Key and token.

    Without the header, `produce` simply runs. Raises ValidationFailed (bad key),
    IdempotencyKeyReused (same key, other request), and whatever `produce` raises (the
    key is then not spent: nothing was written, and a retry runs again).
    """
    key = idempotency_key(request)
    token_id = getattr(request.user, "token_id", None)
    if key is None or token_id is None:
        return produce()
    fingerprint = request_hash(
        method=request.method or "", path=request.get_full_path(), body=request.body
    )
    with transaction.atomic():
        stored = key_claim(token_id=token_id, key=key, fingerprint=fingerprint)
        if stored is not None:
            return replay(stored)
        response = produce()
        key_record(
            token_id=token_id,
            key=key,
            status=response.status_code,
            body=response.data,
            headers={name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
        )
    return response


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key, or None. Raises ValidationFailed when malformed."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValidationFailed(
            {HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} characters long; got {len(key)}."]}
        )
    return key


def request_hash(*, method: str, path: str, body: bytes) -> str:
    """What a key is bound to: method, path (with query) and body."""
    digest = request_hasher(method=method, path=path)
    digest.update(body)
    return digest.hexdigest()


def request_hasher(*, method: str, path: str) -> Any:
    """The same hash for a streamed body: `update()` it with each chunk as it is read,
    then claim the key with its `hexdigest()` before writing."""
    return hashlib.sha256(f"{method.upper()}\n{path}\n".encode())


def key_claim(*, token_id: int, key: str, fingerprint: str) -> StoredResponse | None:
    """Take the key for this transaction (None: go on and write), or return the answer
    stored with it. Waits while another transaction holds the same key. Raises
    IdempotencyKeyReused when the key was used for another request."""
    now = timezone.now()
    for _attempt in range(3):
        try:
            # A savepoint: a duplicate must not break the caller's transaction.
            with transaction.atomic():
                IdempotencyKey.objects.create(
                    token_id=token_id,
                    key=key,
                    request_hash=fingerprint,
                    status_code=0,
                    created_at=now,
                )
        except IntegrityError:
            pass
        else:
            _maybe_prune_after_commit()
            return None
        row = IdempotencyKey.objects.filter(token_id=token_id, key=key).first()
        if row is None:  # pruned between our INSERT and SELECT: insert again
            continue
        if row.created_at <= now - KEY_TTL:
            if _take_over(row, fingerprint, now):
                return None
            continue  # another request took the expired key over first: look again
        if row.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                f"The Idempotency-Key '{key}' was used for another request (other method, "
                "path or body) in the last 24 hours; use a new key for a new request."
            )
        return StoredResponse(row.status_code, row.response_body, row.response_headers)
    raise IdempotencyKeyReused(f"The Idempotency-Key '{key}' is changing hands; retry.")


def key_record(
    *, token_id: int, key: str, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    """Store the answer with the key claimed in this transaction."""
    # Through our JSON encoder: decimals, dates and UUIDs become the strings clients saw.
    IdempotencyKey.objects.filter(token_id=token_id, key=key).update(
        status_code=status,
        response_body=json.loads(json.dumps(body)) if body is not None else None,
        response_headers=headers or {},
    )


def replay(stored: StoredResponse) -> Response:
    metrics.idempotent_replay()
    return Response(
        stored.body, status=stored.status, headers={**stored.headers, REPLAYED_HEADER: "true"}
    )


def keys_prune(*, limit: int | None = None) -> int:
    """Delete keys older than KEY_TTL (at most `limit`); returns how many went."""
    expired = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEY_TTL)
    if limit is not None:
        ids = list(expired.order_by("created_at").values_list("pk", flat=True)[:limit])
        expired = IdempotencyKey.objects.filter(pk__in=ids)
    deleted, _ = expired.delete()
    return deleted


def _take_over(row: IdempotencyKey, fingerprint: str, now: datetime.datetime) -> bool:
    """Reuse an expired key's row; False when a concurrent request got there first."""
    return bool(
        IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).update(
            request_hash=fingerprint,
            status_code=0,
            response_body=None,
            response_headers={},
            created_at=now,
        )
    )


def _maybe_prune_after_commit() -> None:
    if random.random() < PRUNE_CHANCE:  # sampling, not security
        transaction.on_commit(_prune_quietly)


def _prune_quietly() -> None:
    # After the commit: the request's writes are safe whatever happens here.
    try:
        keys_prune(limit=PRUNE_BATCH)
    except DatabaseError:
        logger.warning("pruning idempotency keys failed", exc_info=True)
