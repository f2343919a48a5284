"""Jobs: deletes and updates by filter too large to answer at once (storage.by_filter).

A job's progress commits with each batch it changes, so a worker killed mid-way loses
nothing and counts nothing twice: the next run goes on after `after`.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class JobKind(models.TextChoices):
    DELETE = "delete"
    UPDATE = "update"


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RecordJob(models.Model):
    """A delete or update by filter of one storage, run by the worker in key order."""

    # Not a counter: a job's id says nothing of other tenants' jobs.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # By name (the grant is on the name) and id (a storage dropped and created again under
    # that name is another storage: the job stops).
    storage = models.CharField(max_length=50, db_index=True)
    storage_id = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=JobKind.choices)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # The list's filters as sent ([name, value] pairs) and, for an update, the body.
    filters = models.JSONField(default=list)
    values = models.JSONField(null=True)
    # Records that matched when it was asked, and the greatest key among them: records
    # created later (above it) were not asked for.
    total = models.BigIntegerField()
    upto = models.TextField()
    processed = models.BigIntegerField(default=0)
    # The last key done, as text in JSON (null: none yet).
    after = models.JSONField(null=True)
    # Problem details of records it could not change (an update's unique clash).
    errors = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["status"], name="storage_job_status")]

    def __str__(self) -> str:
        return f"{self.kind} {self.storage} ({self.status})"
