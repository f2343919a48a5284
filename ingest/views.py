"""POST /api/v1/ingest/: one event, a JSON array of events, or an NDJSON stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import IsAuthenticatedToken
from core.idempotency import idempotency_key, key_claim, key_record, replay, request_hasher
from core.json import dumps
from core.parsers import JSONParser
from ingest.parsers import NDJSONParser
from ingest.services import COUNTS, ingest_events

_COUNT = {"type": "integer"}
_REPORT = {
    "type": "object",
    "description": "How many events came, how many matched no storage, and per storage how "
    "many records were written and which events were rejected, with their errors.",
    "properties": {
        "events": _COUNT,
        "unmatched": _COUNT,
        "storages": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "written": _COUNT,
                    # source.write upsert/ignore, and source.delete (ingest.services)
                    **dict.fromkeys(COUNTS, _COUNT),
                    "rejected": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "event": _COUNT,
                                "errors": {
                                    "type": "object",
                                    "additionalProperties": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                    },
                                },
                            },
                            "required": ["event", "errors"],
                        },
                    },
                },
                "required": ["written", *COUNTS, "rejected"],
            },
        },
    },
    "required": ["events", "unmatched", "storages"],
}


class IngestView(APIView):
    # Any token may send events; they are routed only to storages it may write (services).
    permission_classes = [IsAuthenticatedToken]
    parser_classes = [JSONParser, NDJSONParser]

    @extend_schema(
        summary="Send events: each is routed to the storages whose source matches it",
        request=OpenApiTypes.ANY,
        responses={200: _REPORT},
    )
    def post(self, request: Request) -> Response:
        if request.stream is None:
            # DRF would hand over {} for an empty body: one phantom event, silently unmatched.
            raise ParseError(
                "The request body is empty; send an event, a JSON array of events or NDJSON."
            )
        data = request.data
        # A list or an NDJSON stream holds many events; anything else (a scalar too) is one.
        events = data if isinstance(data, list | Iterator) else [data]
        key = idempotency_key(request)
        if key is None or request.user.token_id is None:  # keys are per token (core.idempotency)
            report = ingest_events(principal=request.user, events=events)
            return Response(report.as_dict())
        return _ingest_once(request, key, events)


def _ingest_once(request: Request, key: str, events: Iterable[Any]) -> Response:
    """With an Idempotency-Key: the events are hashed as they stream by (and written batch
    by batch), then the key is claimed with that hash; the writes commit together with the
    stored answer, or roll back when the key already holds one (which is replayed)."""
    hasher = request_hasher(method="POST", path=request.get_full_path())

    def hashed(items: Iterable[Any]) -> Iterator[Any]:
        for event in items:
            hasher.update(dumps(event) + b"\n")
            yield event

    token_id = request.user.token_id
    with transaction.atomic():
        report = ingest_events(principal=request.user, events=hashed(events))
        stored = key_claim(token_id=token_id, key=key, fingerprint=hasher.hexdigest())
        if stored is not None:
            transaction.set_rollback(True)
            return replay(stored)
        body = report.as_dict()
        key_record(token_id=token_id, key=key, status=200, body=body)
    return Response(body)
