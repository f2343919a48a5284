"""HTTP for records: each view resolves the storage, calls one service or selector, answers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.request import Empty, Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import RECORD_ACCESS, StorageAccess, may_access
from core.collector import collector_paused
from core.conditional import ANY, etag, parse_tags
from core.errors import ValidationFailed
from core.idempotency import idempotent
from core.slow_clients import HeldWhileStreaming, take_slot
from factory.schema.ddl import table_changed
from storage import export, openapi, selectors, services
from storage.keys import key_segment
from storage.runtime import RecordRuntime, runtime_for, storage_changed
from storage.serializers import parse_key, represent, represent_all


def record_url(request: HttpRequest | Request, runtime: RecordRuntime, key: Any) -> str:
    """The record's absolute URL (also storage.fastpath's), its key one encoded segment:
    reverse() would leave '/' and dot segments in it, which clients resolve elsewhere."""
    records = reverse("record-list", kwargs={"name": runtime.name})
    return request.build_absolute_uri(f"{records}{key_segment(key)}/")


def list_body(request: HttpRequest | Request, found: selectors.RecordList) -> dict[str, Any]:
    """A page of records as the API answers it (also used by storage.fastpath)."""
    body: dict[str, Any] = {
        "results": represent_all(found.page.rows, found.converters),
        "next": _page_url(request, found.page.next),
        "previous": _page_url(request, found.page.previous),
    }
    if found.count is not None:
        body["count"] = found.count
    return body


def _page_url(request: HttpRequest | Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    # The query as sent, with this cursor in place of any other (where it stood, else
    # last), as a copy of the QueryDict with ["cursor"] set would encode it, without the
    # copy (a deep copy: a tenth of a list page's time).
    pairs: list[tuple[str, str]] = []
    for name, values in request.GET.lists():
        pairs += [(name, cursor)] if name == "cursor" else [(name, value) for value in values]
    if "cursor" not in request.GET:
        pairs.append(("cursor", cursor))
    return request.build_absolute_uri(f"{request.path}?{urlencode(pairs)}")


# A comment, not a docstring: drf-spectacular would describe every records operation with
# a docstring inherited by the views below (the API description must not change).
class RecordView(APIView):
    # What the records views share: the grant check, and answers for a table that changed
    # under a request (404/503, never a 500).

    permission_classes = [StorageAccess]
    storage_access = RECORD_ACCESS

    def handle_exception(self, exc: Exception) -> Response:
        if table_changed(exc):
            exc = storage_changed(self.kwargs["name"])
        return super().handle_exception(exc)


class RecordListView(RecordView):
    @openapi.list_records
    def get(self, request: Request, name: str) -> Response | StreamingHttpResponse:
        runtime = runtime_for(name, request.user)
        export_format = request.query_params.get("format")
        if export_format is not None:
            return _export(runtime, request, export_format)
        found = selectors.record_list(runtime=runtime, params=request.query_params)
        return Response(list_body(request, found))

    @openapi.create_records
    def post(self, request: Request, name: str) -> Response:
        return idempotent(request, lambda: self._create(request, name))

    def _create(self, request: Request, name: str) -> Response:
        runtime = runtime_for(name, request.user)
        # A bulk makes hundreds of thousands of objects (core.collector), from parsing the
        # body on; the collector resumes with the next request, once they are gone.
        with collector_paused(until_next_request=True):
            data = _body(request)
            if isinstance(data, list):
                answer = _bulk_answer(runtime, data, _written(request, runtime))
                del data
                return _bulk_response(request, answer)
        row = services.record_create(runtime=runtime, data=data)
        return Response(
            represent(row, _written(request, runtime)),
            status=status.HTTP_201_CREATED,
            headers={"Location": record_url(request, runtime, row.pk), "ETag": etag(row._version)},
        )


class RecordDetailView(RecordView):
    @openapi.get_record
    def get(self, request: Request, name: str, key: str) -> Response:
        runtime = runtime_for(name, request.user)
        row = selectors.record_get(runtime=runtime, key=_key(runtime, key))
        if _not_modified(request, runtime, row):
            return Response(
                status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(row._version)}
            )
        return Response(represent(row, runtime.converters), headers={"ETag": etag(row._version)})

    @openapi.replace_record
    def put(self, request: Request, name: str, key: str) -> Response:
        return self._update(request, name, key, partial=False)

    @openapi.update_record
    def patch(self, request: Request, name: str, key: str) -> Response:
        return self._update(request, name, key, partial=True)

    @openapi.delete_record
    def delete(self, request: Request, name: str, key: str) -> Response:
        runtime = runtime_for(name, request.user)
        services.record_delete(
            runtime=runtime,
            key=_key(runtime, key),
            if_match=request.headers.get("If-Match"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, name: str, key: str, *, partial: bool) -> Response:
        runtime = runtime_for(name, request.user)
        row = services.record_update(
            runtime=runtime,
            key=_key(runtime, key),
            data=_body(request),
            if_match=request.headers.get("If-Match"),
            partial=partial,
        )
        return Response(
            represent(row, _written(request, runtime)), headers={"ETag": etag(row._version)}
        )


def _written(request: Request, runtime: RecordRuntime) -> list[tuple[str, Any]]:
    """What a write answers of its records: all of them, or to a token that may write but
    not read here, the key and `_version` alone (a write must not be a way to read)."""
    if may_access(request.user, runtime.name, "read"):
        return runtime.converters
    kept = (runtime.key_name, "_version")
    return [(name, convert) for name, convert in runtime.converters if name in kept]


def _bulk_answer(
    runtime: RecordRuntime, items: list[Any], pairs: list[tuple[str, Any]]
) -> list[dict[str, Any]]:
    rows = services.record_bulk_create(runtime=runtime, items=items)
    return represent_all((vars(row) for row in rows), pairs)


def _bulk_response(request: Request, answer: list[dict[str, Any]]) -> Response:
    """The answer to a bulk, which lets go of its records as soon as it can.

    DRF's request and its parser context refer to each other, and so do a response and its
    renderer context: neither is freed when the request ends, but at the collector's next
    pass, with everything they hold. For a bulk that was 10,000 parsed items and 10,000
    answered records, 70,000 objects a request for the collector to walk (tens of
    milliseconds during which the worker's other threads wait). Nothing reads the parsed
    body once the answer is made, nor the answer's data once it is rendered (the
    idempotency layer stores it before)."""
    request._full_data = request._data = Empty  # what DRF holds before parsing
    response = Response(answer, status=status.HTTP_201_CREATED)
    response.add_post_render_callback(_forget_data)
    return response


def _forget_data(response: Response) -> None:
    response.data = None


def _body(request: Request) -> Any:
    """The JSON body of a write. DRF hands a request without a body over as `{}`, which
    would create a record of defaults or bump a version for nothing: refuse it instead."""
    if request.stream is None:
        raise ParseError("The request body is empty; a JSON document was expected.")
    return request.data


def _key(runtime: RecordRuntime, raw: str) -> Any:
    key = parse_key(runtime.definition["primary_key"], raw)
    if key is None:
        raise runtime.record_not_found(raw)
    return key


def _export(runtime: RecordRuntime, request: Request, export_format: str) -> StreamingHttpResponse:
    if export_format not in export.FORMATS:
        raise ValidationFailed(
            {"format": [f"Use one of: {', '.join(export.FORMATS)} (or leave it out for JSON)."]}
        )
    # The thread streams for as long as the client reads: it takes a slow-client slot.
    slot = take_slot()
    try:
        rows, pairs = selectors.record_export(runtime=runtime, params=request.query_params)
    except BaseException:
        slot.release()
        raise
    if export_format == "ndjson":
        lines = export.ndjson_lines(rows, pairs)
    else:
        lines = export.csv_lines(rows, pairs, runtime.definition)
    held = HeldWhileStreaming(lines, slot)
    response = StreamingHttpResponse(held, content_type=export.FORMATS[export_format])
    response["Content-Disposition"] = f'attachment; filename="{runtime.name}.{export_format}"'
    return response


def _not_modified(request: Request, runtime: RecordRuntime, row: Any) -> bool:
    """A matching If-None-Match is 304 unless the schema became ready after the last write
    (the representation may have gained fields since the client cached it)."""
    tags = parse_tags(request.headers.get("If-None-Match"), header_name="If-None-Match")
    if not tags or (row._version not in tags and ANY not in tags):
        return False
    return runtime.ready_at is None or row._updated_at >= runtime.ready_at
