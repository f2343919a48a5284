"""Rows every app shares: the idempotency keys of retried writes (core.idempotency)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """One guarded write: committed in the same transaction as the write, with its answer."""

    # The token that sent the request: keys are scoped per client. A plain id rather than a
    # foreign key keeps core free of other apps; a revoked token's keys age out like any.
    token_id = models.BigIntegerField()
    key = models.CharField(max_length=200)
    # sha256 of method, path and body: the same key sent with another request is refused.
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    # Location and ETag of a single create, so that a replay answers like the original.
    response_headers = models.JSONField(default=dict)
    # Indexed for pruning; rows older than the key lifetime are ignored, then deleted.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token_id", "key"], name="unique_token_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} (token {self.token_id}, {self.status_code})"
