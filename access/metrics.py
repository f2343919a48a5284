"""GET /api/v1/metrics: the Prometheus scrape, for an admin token or METRICS_TOKEN.

METRICS_TOKEN is a secret of its own, so that a Prometheus server need not hold an admin
token (which could do everything else too); it is compared in constant time and is no
API token: it opens this endpoint only.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import authentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from access.authentication import BearerTokenAuthentication
from access.credentials import CHALLENGE, bearer_secret
from access.permissions import IsAdminToken
from core import metrics


class MetricsReader:
    """Who presented METRICS_TOKEN: may scrape, nothing else."""

    is_authenticated = True
    admin = False


class MetricsTokenAuthentication(authentication.BaseAuthentication):
    """METRICS_TOKEN, when set and presented; anything else is left to the API tokens."""

    def authenticate(self, request: Request) -> tuple[MetricsReader, None] | None:
        expected = settings.METRICS_TOKEN
        secret = bearer_secret(request.META.get("HTTP_AUTHORIZATION", ""))
        if expected and secret and hmac.compare_digest(secret.encode(), expected.encode()):
            return MetricsReader(), None
        return None

    def authenticate_header(self, request: Request) -> str:
        # DRF asks the first authenticator: without a challenge it would answer 403, not 401.
        return CHALLENGE


class MayScrape(BasePermission):
    message = "The metrics need an admin token or METRICS_TOKEN."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, MetricsReader) or IsAdminToken().has_permission(
            request, view
        )


class FirstRenderer(BaseContentNegotiation):
    """A scrape asks for text, which only the answer below is; refusals are problem
    documents whatever the client accepts (never 406 to a Prometheus server)."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: Any = None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None


class MetricsView(APIView):
    authentication_classes = [MetricsTokenAuthentication, BearerTokenAuthentication]
    permission_classes = [MayScrape]
    content_negotiation_class = FirstRenderer
    # A scrape every few seconds is no client to rate-limit (and METRICS_TOKEN has no id).
    throttle_classes: list = []

    @extend_schema(
        summary="Prometheus metrics of every server process and the worker",
        responses={(200, metrics.CONTENT_TYPE.split(";")[0]): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE)
