"""The URLs the records API answers with: a record's Location, a page's next/previous."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from storage import selectors
from storage.keys import key_segment
from storage.records.request import RecordRequest
from storage.runtime import RecordRuntime
from storage.serializers import represent_all


def record_url(request: RecordRequest, runtime: RecordRuntime, key: Any) -> str:
    """The record's absolute URL, its key one encoded segment: reverse() would leave '/'
    and dot segments in it, which clients resolve elsewhere."""
    records = reverse("record-list", kwargs={"name": runtime.name})
    return request.absolute(f"{records}{key_segment(key)}/")


def job_url(request: RecordRequest, job_id: Any) -> str:
    """A job's absolute URL (GET /api/v1/jobs/{id}/)."""
    return request.absolute(reverse("record-job", kwargs={"pk": job_id}))


def list_body(request: RecordRequest, found: selectors.RecordList) -> dict[str, Any]:
    """A page of records as the API answers it."""
    body: dict[str, Any] = {
        "results": represent_all(found.page.rows, found.converters),
        "next": page_url(request, found.page.next),
        "previous": page_url(request, found.page.previous),
    }
    if found.count is not None:
        body["count"] = found.count
    return body


def page_url(request: RecordRequest, cursor: str | None, param: str = "cursor") -> str | None:
    """The request's URL with `cursor` as its `param` (a list's `cursor`, the feed's
    `after`)."""
    if cursor is None:
        return None
    # The query as sent, with this cursor in place of any other (where it stood, else
    # last), as a copy of the QueryDict with [param] set would encode it, without the
    # copy (a deep copy: a tenth of a list page's time).
    query = request.query
    pairs: list[tuple[str, str]] = []
    for name, values in query.lists():
        pairs += [(name, cursor)] if name == param else [(name, value) for value in values]
    if param not in query:
        pairs.append((param, cursor))
    return request.absolute(f"{request.path}?{urlencode(pairs)}")


def changes_url(request: RecordRequest, runtime: RecordRuntime, cursor: str) -> str:
    """The storage's change feed, from `cursor` on."""
    feed = reverse("record-changes", kwargs={"name": runtime.name})
    return request.absolute(f"{feed}?{urlencode({'after': cursor})}")
