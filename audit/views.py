"""The audit trail over HTTP: admin tokens only (DRF's default permission here)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import Action
from audit.pagination import AuditPagination
from audit.selectors import audit_list
from audit.serializers import AuditEntrySerializer

_FILTERS = [
    OpenApiParameter("storage", str, description="Entries about this storage (by name)."),
    OpenApiParameter(
        "actor", str, description="`token:<id>`, `admin:<user id>` or `system`: who acted."
    ),
    OpenApiParameter("action", str, enum=Action.values, description="One kind of change."),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="At or after (ISO 8601)."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Before (ISO 8601)."),
]


class AuditViewSet(viewsets.GenericViewSet):
    serializer_class = AuditEntrySerializer
    pagination_class = AuditPagination

    def get_queryset(self):
        # The browsable API asks a list view for it (its filter form): a 500 without it.
        return audit_list(params=self.request.query_params)

    @extend_schema(
        summary="List audit entries, newest first (admin tokens only)", parameters=_FILTERS
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AuditEntrySerializer(page, many=True).data)
