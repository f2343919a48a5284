"""API tokens and their per-storage grants. A token's secret is never stored: only its hash."""

from __future__ import annotations

import operator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from access.grants import GRANT_KINDS, grant_decode


def active_at(now: datetime) -> Q:
    """A token is active until it is revoked, and until it expires when it has an expiry.

    The one definition of "active": access.selectors.token_lookup compiles it into the
    WHERE of its statement, ApiToken.is_active evaluates it on a row already read.
    """
    return Q(revoked_at=None) & (Q(expires_at=None) | Q(expires_at__gt=now))


class ApiToken(models.Model):
    name = models.CharField(max_length=100)
    # sha256 of the secret; a token is 256 random bits, so a fast hash is enough.
    secret_hash = models.CharField(max_length=64, unique=True)
    # The first characters of the secret, to recognise a token in lists and logs.
    prefix = models.CharField(max_length=12)
    admin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return _holds(active_at(timezone.now()), self)


# The lookups a condition evaluated in Python may use, each as SQL reads it: a comparison
# with NULL holds for no value (exact None is SQL's IS NULL).
_LOOKUPS = {"exact": operator.eq, "gt": operator.gt}


def _holds(condition: Q, row: Any) -> bool:
    """`condition` evaluated on `row`'s attributes, as the database would evaluate it."""
    results = []
    for child in condition.children:
        if isinstance(child, Q):
            results.append(_holds(child, row))
            continue
        path, wanted = child
        name, _, lookup = path.partition("__")
        value, compare = getattr(row, name), _LOOKUPS[lookup or "exact"]
        if compare is operator.eq and wanted is None:
            results.append(value is None)
        else:
            results.append(value is not None and compare(value, wanted))
    held = all(results) if condition.connector == Q.AND else any(results)
    return held != condition.negated


class Grant(models.Model):
    """What a client token may do with one storage. Dropping the storage drops its grants:
    a storage created again under the same name starts with none."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="grants")
    storage = models.ForeignKey(
        "factory.StorageDefinition", on_delete=models.CASCADE, related_name="grants"
    )
    # One boolean column per kind in access.grants.GRANT_KINDS, in that order.
    read = models.BooleanField(default=False)
    write = models.BooleanField(default=False)
    manage = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "storage"], name="unique_token_storage")
        ]

    def __str__(self) -> str:
        return f"{self.token.name} → {self.storage.name}: {', '.join(self.access)}"

    @property
    def access(self) -> list[str]:
        return list(grant_decode(getattr(self, kind) for kind in GRANT_KINDS))


class UserGrant(models.Model):
    """What a staff user of the Django admin may do with one storage through the browsable
    API and Swagger UI (their admin session; superusers may do everything, as admin
    tokens). The same kinds as a token's Grant, read by the same rule (access.grants)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="storage_grants"
    )
    storage = models.ForeignKey(
        "factory.StorageDefinition", on_delete=models.CASCADE, related_name="user_grants"
    )
    # One boolean column per kind in access.grants.GRANT_KINDS, in that order.
    read = models.BooleanField(default=False)
    write = models.BooleanField(default=False)
    manage = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "storage"], name="unique_user_storage")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.storage.name}: {', '.join(self.access)}"

    @property
    def access(self) -> list[str]:
        return list(grant_decode(getattr(self, kind) for kind in GRANT_KINDS))
