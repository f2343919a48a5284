"""The audit trail: one row per change of a definition, a token or a grant."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Action(models.TextChoices):
    STORAGE_CREATE = "storage.create", "storage created (version 1)"
    STORAGE_DELETE = "storage.delete", "storage deleted, with its table"
    VERSION_DECLARE = "version.declare", "new version of a definition"
    VERSION_RETRY = "version.retry", "failed version queued again"
    TOKEN_ISSUE = "token.issue", "token issued"
    TOKEN_CHANGE = "token.change", "token changed (admin)"
    TOKEN_REVOKE = "token.revoke", "token revoked"
    TOKEN_DELETE = "token.delete", "token deleted (admin)"
    GRANT_ADD = "grant.add", "grant given"
    GRANT_CHANGE = "grant.change", "grant changed (admin)"
    GRANT_REMOVE = "grant.remove", "grant taken away (admin)"


class ActorKind(models.TextChoices):
    TOKEN = "token", "an API token"
    ADMIN = "admin", "a Django admin user"
    SYSTEM = "system", "a command or the worker"


class AuditEntry(models.Model):
    """What changed, who changed it, when, and from which request.

    Storages and tokens are named by value, not by foreign key: an entry outlives what it
    describes (a dropped storage, a deleted token), and the trail must say who did it.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    # The storage concerned (a definition, or a grant on it); empty for a token alone.
    storage = models.CharField(max_length=50, blank=True, default="")
    # The token concerned by a token or grant action (never its secret, nor its hash).
    token_id = models.BigIntegerField(null=True, blank=True)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    # The token's id or the admin user's id; null for the system.
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150)
    # {"before": ..., "after": ...} and, for a new version, its "changes".
    changes = models.JSONField(default=dict)
    request_id = models.CharField(max_length=128, blank=True, default="")
    address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"
        # The API's filters, each newest first (keyset pages by id).
        indexes = [
            models.Index(fields=["storage", "id"], name="audit_storage_id"),
            models.Index(fields=["actor_kind", "actor_id", "id"], name="audit_actor_id"),
            models.Index(fields=["action", "id"], name="audit_action_id"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_name}"
