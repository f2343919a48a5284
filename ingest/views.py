"""POST /api/v1/ingest/: one event, a JSON array of events, or an NDJSON stream."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import IsAuthenticatedToken
from core.parsers import JSONParser
from ingest.parsers import NDJSONParser
from ingest.services import ingest_events


class IngestView(APIView):
    # Any token may send events; each matched storage then needs `write` (services).
    permission_classes = [IsAuthenticatedToken]
    parser_classes = [JSONParser, NDJSONParser]

    @extend_schema(request=OpenApiTypes.ANY, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = request.data
        events = data if isinstance(data, list) else [data] if isinstance(data, dict) else data
        report = ingest_events(principal=request.user, events=events)
        return Response(report.as_dict())
