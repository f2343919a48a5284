"""Storage metadata: definitions and their versions. The records live in their own tables."""

from __future__ import annotations

from django.db import models


class VersionStatus(models.TextChoices):
    PENDING = "pending"
    MIGRATING = "migrating"
    READY = "ready"
    FAILED = "failed"


# A version in one of these states is still the worker's to apply: no other version may be
# declared, nor it retried, until it is ready or has failed.
ACTIVE_STATUSES = (VersionStatus.PENDING, VersionStatus.MIGRATING)


class StorageDefinition(models.Model):
    """One storage. `version` is the latest declared version; `serving_version` is the
    version whose table the records API serves (null until the first table exists)."""

    name = models.CharField(max_length=50, unique=True)
    description = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    serving_version = models.PositiveIntegerField(null=True, blank=True)
    # Status of the latest version, kept here so that lists need no join.
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StorageVersion(models.Model):
    """The full, normalised definition of one version, with what changed and its state."""

    storage = models.ForeignKey(
        StorageDefinition, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    changes = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.PENDING
    )
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["storage", "number"]
        constraints = [
            models.UniqueConstraint(fields=["storage", "number"], name="unique_storage_version")
        ]

    def __str__(self) -> str:
        return f"{self.storage.name} v{self.number}"


class WorkerHeartbeat(models.Model):
    """One row per worker process (`manage.py run_worker`), touched every few seconds while
    it runs, so that any process on any machine can tell whether a worker will apply a
    pending version. `last_seen` is the database's clock, never a worker's: machines whose
    clocks disagree are still compared fairly."""

    worker_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"worker {self.host}:{self.pid}"
