"""API tokens and their per-storage grants. A token's secret is never stored: only its hash."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


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
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Grant(models.Model):
    """What a client token may do with one storage. Dropping the storage drops its grants:
    a storage created again under the same name starts with none."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="grants")
    storage = models.ForeignKey(
        "factory.StorageDefinition", on_delete=models.CASCADE, related_name="grants"
    )
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
        return [name for name in ("read", "write", "manage") if getattr(self, name)]
