"""The records API's DRF adapter: one viewset that describes each request to the records
operations (storage.records) and renders their Answer. Nothing here decides an answer."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.request import Empty, Request
from rest_framework.response import Response

from access.grants import RECORD_ACCESS
from access.permissions import StorageAccess
from core.idempotency import idempotent
from core.parsers import EMPTY_BODY
from storage import openapi, records


# A comment, not a docstring: drf-spectacular would describe every records operation with
# the viewset's docstring (the API description must not change).
class RecordViewSet(viewsets.ViewSet):
    # The grant check runs here too (DRF's permission), before the view: the browsable
    # API and OPTIONS answer by it. The records operations check the same rule
    # (access.grants.may_access) for the front door, which has no DRF.

    permission_classes = [StorageAccess]
    storage_access = RECORD_ACCESS
    schema = openapi.RecordsSchema()
    lookup_field = "key"
    # Any non-empty text (`[^/]+` would stop at '/'). Create refuses keys that are no
    # single segment (storage.keys); those stored before stay reachable here.
    lookup_value_regex = r"[\s\S]+"

    @openapi.list_records
    def list(self, request: Request, name: str) -> Response | StreamingHttpResponse:
        return _rendered(request, records.read_page(_described(request, name)))

    # /<name>/changes/: routed before the detail route, so no text key may be "changes"
    # (storage.keys refuses it).
    @openapi.read_changes
    @action(detail=False, methods=["get"], url_path="changes")
    def changes(self, request: Request, name: str) -> Response:
        return _rendered(request, records.read_changes(_described(request, name)))

    @openapi.create_records
    def create(self, request: Request, name: str) -> Response:
        return idempotent(
            request, lambda: _rendered(request, records.create(_described(request, name)))
        )

    @openapi.delete_matching_records
    def destroy_matching(self, request: Request, name: str) -> Response:
        return idempotent(
            request, lambda: _rendered(request, records.delete_matching(_described(request, name)))
        )

    @openapi.update_matching_records
    def update_matching(self, request: Request, name: str) -> Response:
        return idempotent(
            request, lambda: _rendered(request, records.update_matching(_described(request, name)))
        )

    @openapi.get_record
    def retrieve(self, request: Request, name: str, key: str) -> Response:
        return _rendered(request, records.read_one(_described(request, name, key)))

    @openapi.replace_record
    def update(self, request: Request, name: str, key: str) -> Response:
        answer = records.update(_described(request, name, key), partial=False)
        return _rendered(request, answer)

    @openapi.update_record
    def partial_update(self, request: Request, name: str, key: str) -> Response:
        answer = records.update(_described(request, name, key), partial=True)
        return _rendered(request, answer)

    @openapi.delete_record
    def destroy(self, request: Request, name: str, key: str) -> Response:
        return _rendered(request, records.delete(_described(request, name, key)))


def _described(request: Request, name: str, key: str | None = None) -> records.RecordRequest:
    principal = request.user if getattr(request.user, "is_authenticated", False) else None
    known = getattr(principal, "storages", {})
    return records.RecordRequest(
        name=name,
        principal=principal,
        query=request.query_params,
        path=request.path,
        absolute=request.build_absolute_uri,
        key=key,
        body=lambda: _body(request),
        if_match=request.headers.get("If-Match"),
        if_none_match=request.headers.get("If-None-Match"),
        prefer=request.headers.get("Prefer"),
        storage=known.get(name),
        storage_known=name in known,
    )


def _body(request: Request) -> Any:
    """The JSON body of a write. DRF hands a request without a body over as `{}`, which
    would create a record of defaults or bump a version for nothing: refuse it instead."""
    if request.stream is None:
        raise ParseError(EMPTY_BODY)
    return request.data


def _rendered(request: Request, answer: records.Answer) -> Response | StreamingHttpResponse:
    if answer.stream is not None:
        response = StreamingHttpResponse(answer.stream, content_type=answer.content_type)
        for header, value in answer.headers:
            response[header] = value
        return response
    response = Response(answer.data, status=answer.status, headers=dict(answer.headers))
    if answer.bulk:
        _let_go(request, response)
    return response


def _let_go(request: Request, response: Response) -> None:
    """Let go of a bulk's records as soon as possible.

    DRF's request and its parser context refer to each other, and so do a response and its
    renderer context: neither is freed when the request ends, but at the collector's next
    pass, with everything they hold. For a bulk that was 10,000 parsed items and 10,000
    answered records, 70,000 objects a request for the collector to walk (tens of
    milliseconds during which the worker's other threads wait). Nothing reads the parsed
    body once the answer is made, nor the answer's data once it is rendered (the
    idempotency layer stores it before)."""
    request._full_data = request._data = Empty  # what DRF holds before parsing
    response.add_post_render_callback(_forget_data)


def _forget_data(response: Response) -> None:
    response.data = None
