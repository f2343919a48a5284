"""Delete and update the records a filter matches: the list's strict filters, at once up to
MAX_BULK_ITEMS matches, else as a job the worker runs.

A job walks the matches in key order, up to the greatest key that matched when it was
asked, in batches of JOB_BATCH_ITEMS, each batch and the job's progress in one
transaction: a worker killed mid-way left a batch whole or not at all, and the next run
(storage.tasks, or jobs_resume when a worker starts) goes on after the last key done.
Writes are plain DELETEs and UPDATEs of the storage's table; an update sets the fields
sent on the matches whose values differ, each with a new `_version` and `_updated_at` (a
record already holding those values is not written).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass
from functools import reduce
from operator import and_
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models.expressions import RawSQL
from django.http import QueryDict
from django.utils import timezone

from core import metrics
from core.batches import key_batch
from core.errors import DomainError, StorageNotFound, ValidationFailed
from core.exception_handler import domain_status
from core.problems import problem_body
from factory.schema import feed, names, record_versions
from storage.models import JobKind, JobStatus, RecordJob
from storage.runtime import RecordRuntime, runtime_for
from storage.serializers import parse_key
from storage.services import unique_violation
from storage.sql.jobs import job_lock

logger = logging.getLogger("datastorage.jobs")

# What a delete or update by filter takes besides filters (no field may be named so).
PARAMETERS = names.BY_FILTER_PARAMETERS
(EVERYTHING,) = PARAMETERS
# Problem details kept per job: enough to act on, never a job row of megabytes.
MAX_JOB_ERRORS = 100


@dataclass(frozen=True)
class Outcome:
    """Done at once (`counts`: the answer's body) or left to a `job`."""

    counts: dict[str, int] | None = None
    job: RecordJob | None = None


def wants_everything(query: Any) -> bool:
    """Whether `?all=true` asks for every record. Raises ValidationFailed for another value."""
    raw = query.get(EVERYTHING)
    if raw is None:
        return False
    if raw != "true":
        raise ValidationFailed({EVERYTHING: ["Only all=true (every record of the storage)."]})
    return True


def records_delete_by_filter(*, runtime: RecordRuntime, params: Any, everything: bool) -> Outcome:
    """Delete the matches: at once up to MAX_BULK_ITEMS, else as a job. Raises
    ValidationFailed (no filter, an unknown or invalid one)."""
    matching = _matching(runtime, params, everything)
    return _at_once_or_job(runtime, matching, params, JobKind.DELETE, None)


def records_update_by_filter(
    *, runtime: RecordRuntime, params: Any, everything: bool, data: Any
) -> Outcome:
    """Set the fields of `data` (validated as a PATCH) on the matches: at once up to
    MAX_BULK_ITEMS, else as a job. Raises ValidationFailed, UniqueViolation (at once)."""
    matching = _matching(runtime, params, everything)
    values = patch_values(runtime, data)
    return _at_once_or_job(runtime, matching, params, JobKind.UPDATE, data, values)


def patch_values(runtime: RecordRuntime, data: Any) -> dict[str, Any]:
    """The values of an update by filter's body. Raises ValidationFailed."""
    values, body_version = runtime.validator.for_patch(data, None)
    if body_version is not None:
        raise ValidationFailed(
            {"_version": ["Not in an update by filter: each record has its own version."]}
        )
    if not values:
        raise ValidationFailed({"non_field_errors": ["Name at least one field to change."]})
    return values


def _matching(runtime: RecordRuntime, params: Any, everything: bool) -> models.QuerySet:
    names = [name for name in params if name != EVERYTHING]
    if not names and not everything:
        raise ValidationFailed(
            {"filters": ["Name at least one filter, or all=true for every record."]},
            "A delete or update by filter needs a filter: nothing was changed.",
        )
    return runtime.filters.apply(runtime.model.objects.all(), params, PARAMETERS)


def _at_once_or_job(
    runtime: RecordRuntime,
    matching: models.QuerySet,
    params: Any,
    kind: str,
    data: Any,
    values: dict[str, Any] | None = None,
) -> Outcome:
    limit = settings.MAX_BULK_ITEMS
    keys = list(matching.order_by("pk").values_list("pk", flat=True)[: limit + 1])
    if len(keys) <= limit:
        now = timezone.now()
        bounded = matching.filter(pk__lte=keys[-1]) if keys else matching.none()
        with transaction.atomic():
            if kind == JobKind.DELETE:
                counts = {"deleted": _delete(runtime, bounded)}
            else:
                counts = {"updated": _update(runtime, bounded, values or {}, now)}
        return Outcome(counts=counts)
    job = RecordJob.objects.create(
        storage=runtime.name,
        storage_id=runtime.storage_id,
        kind=kind,
        filters=[[name, params.get(name)] for name in params],
        values=data,
        total=matching.count(),
        upto=str(matching.order_by("-pk").values_list("pk", flat=True)[0]),
    )
    transaction.on_commit(lambda: _enqueue(job.id))
    return Outcome(job=job)


def _enqueue(job_id: uuid.UUID) -> None:
    from storage.tasks import run_record_job  # the task module imports this one

    run_record_job.enqueue(str(job_id))


# --- the writes ----------------------------------------------------------------------------


def _delete(runtime: RecordRuntime, rows: models.QuerySet) -> int:
    deleted = feed.delete_rows(rows)
    metrics.records_written(runtime.name, "delete", deleted)
    return deleted


def _update(
    runtime: RecordRuntime, rows: models.QuerySet, values: dict[str, Any], now: datetime.datetime
) -> int:
    """Set `values` on `rows` whose values differ: each gets a new `_version`. Raises
    UniqueViolation."""
    changed = rows.exclude(_holding(values))
    next_version = record_versions.update_version_sql(runtime.model)
    try:
        with transaction.atomic():
            if next_version is not None:
                updated = changed.update(
                    **values, _version=RawSQL(next_version, []), _updated_at=now
                )
            else:  # SQLite, Citus: record by record, each drawing its version first
                update = runtime.update_by_key
                keys = list(changed.values_list("pk", flat=True))
                updated = sum(
                    update.run(key=key, versions=None, values=values, updated_at=now) is not None
                    for key in keys
                )
    except IntegrityError as exc:
        raise unique_violation(runtime, exc) from exc
    metrics.records_written(runtime.name, "update", updated)
    return updated


def _holding(values: dict[str, Any]) -> models.Q:
    """Records that hold every one of `values` already (NULL as NULL)."""
    conditions = [
        models.Q(**{f"{name}__isnull": True}) if value is None else models.Q(**{name: value})
        for name, value in values.items()
    ]
    return reduce(and_, conditions)


# --- jobs -----------------------------------------------------------------------------------


def job_run(*, job_id: uuid.UUID | str) -> str:
    """Run a job to its end from where it stopped; returns its status. Another worker's
    run of the same job is left alone (its status is answered)."""
    job_id = uuid.UUID(str(job_id))
    with job_lock(job_id) as held:
        job = RecordJob.objects.filter(pk=job_id).first()
        if job is None:
            return "gone"
        if not held or job.status in (JobStatus.DONE, JobStatus.FAILED):
            return job.status
        try:
            runtime = _job_runtime(job)
            matching = runtime.filters.apply(
                runtime.model.objects.all(), _query(job.filters), PARAMETERS
            )
            values = patch_values(runtime, job.values) if job.kind == JobKind.UPDATE else None
        except DomainError as exc:
            _fail(job, exc)
            return job.status
        _start(job)
        while not _job_batch(job, runtime, matching, values):
            pass
        return job.status


def jobs_resume() -> list[str]:
    """Run every job left queued or running (a worker killed or stopped mid-way)."""
    unfinished = RecordJob.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING))
    ran = []
    for job_id in unfinished.order_by("created_at").values_list("id", flat=True):
        logger.info("resuming job %s", job_id)
        ran.append(job_run(job_id=job_id))
    return ran


def _job_runtime(job: RecordJob) -> RecordRuntime:
    runtime = runtime_for(job.storage)
    if runtime.storage_id != job.storage_id:
        raise StorageNotFound(f"Storage '{job.storage}' was dropped since the job was asked.")
    return runtime


def _query(filters: list[list[str]]) -> QueryDict:
    query = QueryDict(mutable=True)
    for name, value in filters:
        query[name] = value
    return query


def _start(job: RecordJob) -> None:
    job.status = JobStatus.RUNNING
    job.started_at = job.started_at or timezone.now()
    job.save(update_fields=["status", "started_at"])


def _fail(job: RecordJob, exc: DomainError) -> None:
    job.status = JobStatus.FAILED
    job.finished_at = timezone.now()
    job.errors = [*job.errors, _problem(exc)][:MAX_JOB_ERRORS]
    job.save(update_fields=["status", "finished_at", "errors"])


def _job_batch(
    job: RecordJob,
    runtime: RecordRuntime,
    matching: models.QuerySet,
    values: dict[str, Any] | None,
) -> bool:
    """One batch and the job's progress, in one transaction; True when the job is done."""
    key_spec = runtime.definition["primary_key"]
    upto = parse_key(key_spec, job.upto)
    rows = matching.filter(pk__lte=upto)
    if job.after is not None:
        rows = rows.filter(pk__gt=parse_key(key_spec, job.after))
    batch = settings.JOB_BATCH_ITEMS
    with transaction.atomic():
        chunk, edge = key_batch(rows, batch)
        boundary = upto if edge is None else edge
        if job.kind == JobKind.DELETE:
            job.processed += _delete(runtime, chunk)
        else:
            job.processed += _update_each_if_needed(job, runtime, chunk, values or {})
        job.after = str(boundary)
        if edge is None or boundary == upto:
            job.status, job.finished_at = JobStatus.DONE, timezone.now()
        job.save(update_fields=["processed", "after", "status", "finished_at", "errors"])
    return job.status == JobStatus.DONE


def _update_each_if_needed(
    job: RecordJob, runtime: RecordRuntime, rows: models.QuerySet, values: dict[str, Any]
) -> int:
    """The batch at once; if a record of it clashes with a unique index, record by record,
    each clash a problem in the job's errors naming the record's key."""
    now = timezone.now()
    try:
        return _update(runtime, rows, values, now)
    except DomainError:
        pass
    updated = 0
    for key in rows.exclude(_holding(values)).values_list("pk", flat=True):
        try:
            updated += _update(runtime, rows.filter(pk=key), values, now)
        except DomainError as exc:
            if len(job.errors) < MAX_JOB_ERRORS:
                job.errors.append({**_problem(exc), "key": str(key)})
    return updated


def _problem(exc: DomainError) -> dict[str, Any]:
    """The problem details the API would answer `exc` with (core.exception_handler)."""
    status, _ = domain_status(exc)
    return problem_body(
        status=status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra
    )


def job_body(job: RecordJob) -> dict[str, Any]:
    """A job as GET /api/v1/jobs/{id}/ and a 202 answer show it."""
    return {
        "id": str(job.id),
        "storage": job.storage,
        "kind": job.kind,
        "status": job.status,
        "total": job.total,
        "processed": job.processed,
        "errors": job.errors,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }
