"""The records operations: read one, read a page (or export it), create (one or many),
replace or patch, delete. Each checks the grant first, then resolves the storage version,
then reads the body, and answers once: an Answer, or a domain error for `refusal`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from access.credentials import CHALLENGE, NO_CREDENTIALS
from access.grants import NO_GRANT, RECORD_ACCESS, may_access
from core.collector import collector_paused
from core.conditional import ANY, etag, parse_tags
from core.errors import Forbidden, NotAuthenticated, ValidationFailed
from core.exception_handler import problem_exception_handler
from core.problems import PROBLEM_CONTENT_TYPE
from core.slow_clients import HeldWhileStreaming, take_slot
from factory.schema.ddl import table_changed
from factory.schema.fields import parse_integer
from storage import by_filter, changes, export, selectors, services, upserts, waiting
from storage.records.links import changes_url, job_url, list_body, page_url, record_url
from storage.records.request import Answer, RecordRequest
from storage.runtime import (
    RecordRuntime,
    runtime_for_row,
    storage_changed,
    storage_row,
)
from storage.serializers import parse_key, represent, represent_all

Operation = Callable[..., Answer]


def _storage_may_change(operation: Operation) -> Operation:
    """A statement that met its storage's table dropped or declared again under it wrote
    nothing: 404 or 503 (storage.runtime.storage_changed), never a 500."""

    @functools.wraps(operation)
    def answer(request: RecordRequest, *args: Any, **kwargs: Any) -> Answer:
        try:
            return operation(request, *args, **kwargs)
        except DatabaseError as exc:
            if table_changed(exc):
                raise storage_changed(request.name) from exc
            raise

    return answer


@_storage_may_change
def read_one(request: RecordRequest) -> Answer:
    runtime = _runtime(request, RECORD_ACCESS["GET"])
    key = _key(runtime, request.key)
    known = request.known
    if known is not None and known.runtime is runtime:
        row = known.row  # read with the token, from the version served now
        if row is None:
            raise runtime.record_not_found(key)
    else:
        row = selectors.record_get(runtime=runtime, key=key)
    tag = etag(row._version)
    if _not_modified(request, runtime, row):
        return Answer(304, headers=(("ETag", tag),))
    return Answer(200, represent(row, runtime.converters), (("ETag", tag),))


@_storage_may_change
def read_page(request: RecordRequest) -> Answer:
    runtime = _runtime(request, RECORD_ACCESS["GET"])
    export_format = request.query.get("format")
    if export_format is not None:
        return _export(request, runtime, export_format)
    # A first page tells where to follow the change feed from, as of the page: a snapshot
    # of the list plus the feed from there misses no change (docs/api.md).
    first = "cursor" not in request.query and changes.feed_ready(runtime)
    found = selectors.record_list(runtime=runtime, params=request.query, feed_bound=first)
    body = list_body(request, found)
    if found.feed_bound is not None:
        body["changes"] = changes_url(request, runtime, changes.feed_cursor(runtime, found))
    return Answer(200, body)


@_storage_may_change
def read_changes(request: RecordRequest) -> Answer:
    """A page of the change feed (storage.changes): 200 with the changes after the cursor,
    or 304 when If-None-Match names the feed's high-water mark. With `wait`, an answer
    that would have nothing new waits for a change, up to that many seconds."""
    runtime = _runtime(request, RECORD_ACCESS["GET"])
    query = changes.feed_query(runtime=runtime, params=request.query)
    seconds = _wait_seconds(request.query.get("wait"))
    if not seconds:
        return _changes_answer(request, runtime, query)
    with waiting.waiter(runtime.storage_id, seconds) as waiter:
        woken = False
        while True:
            answer = _changes_answer(request, runtime, query)
            if (answer.status == 200 and answer.data["results"]) or waiter.expired:
                return answer
            # Woken for a change that does not show yet: look again soon.
            woken = waiter.wait(soon=woken)


def _changes_answer(request: RecordRequest, runtime: RecordRuntime, query: Any) -> Answer:
    # The tag before the page: a page may then show more than its tag says, never less,
    # so a 304 never hides a change from the client that cached the page.
    tag = changes.feed_tag(runtime)
    headers = (("ETag", tag),)
    if _tag_matches(request.if_none_match, tag):
        return Answer(304, headers=headers)
    page = changes.changes_page(runtime=runtime, query=query)
    body = {"results": page.entries, "next": page_url(request, page.next, "after")}
    return Answer(200, body, headers)


def _tag_matches(header: str | None, tag: str) -> bool:
    """Weak comparison (RFC 9110): `W/"x"` and `"x"` match."""
    if not header:
        return False
    strong = tag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") in (strong, "*") for t in header.split(","))


def _wait_seconds(raw: str | None) -> int:
    if raw is None:
        return 0
    try:
        seconds = parse_integer(raw)
    except ValueError:
        seconds = -1
    if not 0 <= seconds <= settings.FEED_MAX_WAIT_S:
        raise ValidationFailed(
            {"wait": [f"Seconds to wait: a whole number from 0 to {settings.FEED_MAX_WAIT_S}."]}
        )
    return seconds


@_storage_may_change
def create(request: RecordRequest) -> Answer:
    """One record (a JSON object) or a bulk (an array): 201. With Prefer: resolution=...,
    an upsert (upsert)."""
    runtime = _runtime(request, RECORD_ACCESS["POST"])
    resolution = upserts.preferred_resolution(request.prefer)
    on, keep_newer = upserts.upsert_parameters(request.query, resolution)
    if resolution is not None:
        target = upserts.upsert_target(runtime, resolution=resolution, on=on, keep_newer=keep_newer)
        return upsert(request, runtime, target, resolution)
    pairs = _written(request, runtime)
    # A bulk makes hundreds of thousands of objects (core.collector), from parsing the
    # body on; the collector resumes with the next request, once they are gone.
    with collector_paused(until_next_request=True):
        data = request.body()
        if isinstance(data, list):
            rows = services.record_bulk_create(runtime=runtime, items=data)
            del data
            return Answer(201, represent_all((vars(row) for row in rows), pairs), bulk=True)
    row = services.record_create(runtime=runtime, data=data)
    location = record_url(request, runtime, row.pk)
    return Answer(
        201, represent(row, pairs), (("Location", location), ("ETag", etag(row._version)))
    )


def upsert(request: RecordRequest, runtime: RecordRuntime, target: Any, resolution: str) -> Answer:
    """Insert or merge one record or a bulk: 201 when every item was created, else 200;
    each record says what happened to it in `_op`."""
    pairs = _written(request, runtime)
    applied = ("Preference-Applied", f"resolution={resolution}")
    with collector_paused(until_next_request=True):
        data = request.body()
        bulk = isinstance(data, list)
        results = upserts.record_upsert(
            runtime=runtime, items=data if bulk else [data], target=target
        )
        del data
    status = 201 if upserts.all_created(results) else 200
    if bulk:
        body = represent_all((vars(result.record) for result in results), pairs)
        for record, result in zip(body, results, strict=True):
            record["_op"] = result.operation
        return Answer(status, body, (applied,), bulk=True)
    (result,) = results
    record = {**represent(result.record, pairs), "_op": result.operation}
    headers = [applied, ("ETag", etag(result.record._version))]
    if status == 201:
        headers.insert(1, ("Location", record_url(request, runtime, result.record.pk)))
    return Answer(status, record, tuple(headers))


@_storage_may_change
def update(request: RecordRequest, *, partial: bool) -> Answer:
    """PUT (partial=False) or PATCH: 200, or 404, 400, 428, 412, 409 in that order."""
    runtime = _runtime(request, RECORD_ACCESS["PATCH" if partial else "PUT"])
    key = _key(runtime, request.key)
    data = request.body()
    if request.missed == _version_of(runtime) and may_access(
        request.principal, request.name, "read"
    ):
        # The same UPDATE on this version matched nothing with the token and grant holding
        # (storage.frontdoor): running it again would match nothing again.
        services.record_lost_race(runtime, key)
    row = services.record_update(
        runtime=runtime, key=key, data=data, if_match=request.if_match, partial=partial
    )
    return updated(row, _written(request, runtime))


def updated(row: Any, pairs: list[tuple[str, Any]]) -> Answer:
    """The answer to a PUT or PATCH that wrote `row` (also the front door's one-statement
    update's), its fields as `pairs` represents them."""
    return Answer(200, represent(row, pairs), (("ETag", etag(row._version)),))


@_storage_may_change
def delete(request: RecordRequest) -> Answer:
    runtime = _runtime(request, RECORD_ACCESS["DELETE"])
    services.record_delete(
        runtime=runtime, key=_key(runtime, request.key), if_match=request.if_match
    )
    return Answer(204)


@_storage_may_change
def delete_matching(request: RecordRequest) -> Answer:
    """DELETE of the list with filters: 200 {"deleted": n}, or 202 and a job."""
    runtime = _runtime(request, RECORD_ACCESS["DELETE"])
    outcome = by_filter.records_delete_by_filter(
        runtime=runtime, params=request.query, everything=_everything(request)
    )
    return _by_filter(request, outcome)


@_storage_may_change
def update_matching(request: RecordRequest) -> Answer:
    """PATCH of the list with filters: 200 {"updated": n}, or 202 and a job."""
    runtime = _runtime(request, RECORD_ACCESS["PATCH"])
    everything = _everything(request)
    outcome = by_filter.records_update_by_filter(
        runtime=runtime, params=request.query, everything=everything, data=request.body()
    )
    return _by_filter(request, outcome)


def _everything(request: RecordRequest) -> bool:
    """`?all=true`: every record, which needs the manage grant (403)."""
    everything = by_filter.wants_everything(request.query)
    if everything and not may_access(request.principal, request.name, "manage"):  # type: ignore[arg-type]
        raise Forbidden(NO_GRANT)
    return everything


def _by_filter(request: RecordRequest, outcome: by_filter.Outcome) -> Answer:
    if outcome.job is None:
        return Answer(200, outcome.counts)
    location = job_url(request, outcome.job.id)
    return Answer(202, by_filter.job_body(outcome.job), (("Location", location),))


def refusal(exc: Exception) -> Answer | None:
    """A refused request's answer, by the API's one exception handler (domain errors, the
    body parser's, database failures); None for an exception it gives no answer (a bug)."""
    problem = problem_exception_handler(exc, {})
    if problem is None:
        return None
    headers = tuple((name, value) for name, value in problem.items() if name != "Content-Type")
    return Answer(problem.status_code, problem.data, headers, content_type=PROBLEM_CONTENT_TYPE)


# --- what every operation does first ------------------------------------------------------


def _runtime(request: RecordRequest, *needed: str) -> RecordRuntime:
    """The runtime of the version the storage serves now, once the principal may do each
    of `needed` there (401, 403; then 404 or 409 for the storage). What each operation
    needs is access.grants.RECORD_ACCESS, the table the viewset's DRF permission
    reads: one rule for both adapters."""
    principal = request.principal
    if principal is None:
        raise NotAuthenticated(NO_CREDENTIALS, challenge=CHALLENGE)
    if not may_access(principal, request.name, *needed):
        raise Forbidden(NO_GRANT)
    known = request.known
    if known is not None and known.serves(request.storage):
        return known.runtime  # the version guessed is the one served (read with the token)
    row = request.storage if request.storage_known else storage_row(request.name)
    return runtime_for_row(request.name, row)


def _version_of(runtime: RecordRuntime) -> tuple[int, int]:
    return runtime.storage_id, runtime.version


def _key(runtime: RecordRuntime, raw: str | None) -> Any:
    key = parse_key(runtime.definition["primary_key"], raw or "")
    if key is None:
        raise runtime.record_not_found(raw)
    return key


def _written(request: RecordRequest, runtime: RecordRuntime) -> list[tuple[str, Any]]:
    """What a write answers of its records: all of them, or to a token that may write but
    not read here, the key and `_version` alone (a write must not be a way to read)."""
    if may_access(request.principal, runtime.name, "read"):  # type: ignore[arg-type]
        return runtime.converters
    kept = (runtime.key_name, "_version")
    return [(name, convert) for name, convert in runtime.converters if name in kept]


def _not_modified(request: RecordRequest, runtime: RecordRuntime, row: Any) -> bool:
    """A matching If-None-Match is 304 unless the schema became ready after the last write
    (the representation may have gained fields since the client cached it)."""
    tags = parse_tags(request.if_none_match, header_name="If-None-Match")
    if not tags or (row._version not in tags and ANY not in tags):
        return False
    return runtime.ready_at is None or row._updated_at >= runtime.ready_at


def _export(request: RecordRequest, runtime: RecordRuntime, export_format: str) -> Answer:
    if export_format not in export.FORMATS:
        raise ValidationFailed(
            {"format": [f"Use one of: {', '.join(export.FORMATS)} (or leave it out for JSON)."]}
        )
    # The thread streams for as long as the client reads: it takes a slow-client slot.
    slot = take_slot()
    try:
        rows, pairs = selectors.record_export(runtime=runtime, params=request.query)
    except BaseException:
        slot.release()
        raise
    if export_format == "ndjson":
        lines = export.ndjson_lines(rows, pairs)
    else:
        lines = export.csv_lines(rows, pairs, runtime.definition)
    disposition = f'attachment; filename="{runtime.name}.{export_format}"'
    return Answer(
        200,
        headers=(("Content-Disposition", disposition),),
        content_type=export.FORMATS[export_format],
        stream=HeldWhileStreaming(lines, slot),
    )
