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


class FeedStatus(models.TextChoices):
    # A table made before the change feed: the worker installs its feed (factory.services
    # .feeds); until then the feed answers 503 feed-not-ready, never a partial history.
    PENDING = "pending"
    READY = "ready"


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
    feed_status = models.CharField(
        max_length=16, choices=FeedStatus.choices, default=FeedStatus.READY
    )
    # The highest feed position (transaction, sequence) whose tombstones were pruned: a
    # cursor below it may have missed a deletion (410 cursor-expired).
    feed_pruned_txid = models.BigIntegerField(default=0)
    feed_pruned_seq = models.BigIntegerField(default=0)
    # The worker's last retention run (factory.services.retention): when, how many records
    # went, the oldest value kept, and an error if it stopped early. Null: never run.
    retention_last_run = models.JSONField(null=True, blank=True)

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


class FeedTombstone(models.Model):
    """A deleted record, for the change feed: written by the storage table's own trigger
    (factory.schema.feed) in the deleting transaction, one per key (a later deletion of the
    same key replaces it), pruned after FEED_TOMBSTONE_DAYS."""

    storage = models.ForeignKey(StorageDefinition, on_delete=models.CASCADE)
    key = models.TextField()  # the primary key as the database spells it as text
    version = models.BigIntegerField()  # the `_version` the record had when deleted
    txid = models.BigIntegerField()
    seq = models.BigIntegerField()
    deleted_at = models.DateTimeField(db_index=True)
    # A retention run's mark instead of one tombstone per record, when it dropped whole
    # partitions: {"field": ..., "before": ...}, under the key feed.REMOVED_KEY (one per
    # storage, replaced by each such run; null for a record's tombstone).
    removed = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["storage", "key"], name="feed_tombstone_key")
        ]
        indexes = [models.Index(fields=["storage", "txid", "seq"], name="feed_tombstone_position")]

    def __str__(self) -> str:
        return f"{self.storage_id}:{self.key} deleted"


class FeedWaiter(models.Model):
    """A storage some long-poll of its feed waits on, until `until`: its writes NOTIFY
    (factory.schema.feed) only while one does."""

    storage = models.OneToOneField(StorageDefinition, on_delete=models.CASCADE)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.storage_id} waited on until {self.until}"
