"""Health endpoints and the problem-details answers for Django's own 404 and 500."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost, SuspiciousOperation, TooManyFieldsSent
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.problems import problem_page, problem_response


def database_is_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable" to a probe
        connection.close_if_unusable_or_obsolete()
        return False


# What apps above core add to the readiness answer, by name (factory: "worker"). Read
# only when the database answers; otherwise each is "unknown". They never make the API
# unready: readiness is about the database alone.
_health_parts: dict[str, Callable[[], str]] = {}


def report_in_health(name: str, state: Callable[[], str]) -> None:
    """Add `name` to GET /api/v1/health/, its value `state()` (called per request)."""
    _health_parts[name] = state


_HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.CharField(),
        "database": serializers.CharField(),
        "worker": serializers.ChoiceField(
            ["ok", "late", "absent", "unknown"],
            help_text="The migration worker's heartbeat (`ok`: seen within "
            "WORKER_LATE_SECONDS; `late`: seen before, not since; `absent`: never; `unknown`: "
            "the database does not answer). Readiness does not depend on it.",
        ),
    },
)


class HealthView(APIView):
    """Readiness: 200 when the database answers, 503 when it does not."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        summary="Readiness (checks the database)",
        responses={200: _HealthSerializer, 503: _HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        if database_is_reachable():
            parts = {name: state() for name, state in _health_parts.items()}
            return Response({"status": "ok", "database": "ok", **parts})
        return Response(
            {"status": "unavailable", "database": "unavailable"}
            | dict.fromkeys(_health_parts, "unknown"),
            status=503,
            headers={"Retry-After": "2"},
        )


class LivenessView(APIView):
    """Liveness: 200 whenever this process can answer, whatever the database does."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        summary="Liveness (never touches the database)",
        responses={200: inline_serializer("Live", {"status": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's own 400s: a Host outside ALLOWED_HOSTS, too many parameters, other
    suspicious requests (SuspiciousOperation, raised in a middleware or a view).

    Django logs each at ERROR with its traceback (django.security.<class>) right after
    this answer is made: any client, without a token, could flood the logs so. It is
    logged here instead, on the same logger, as one WARNING line with the request id
    (and the path, not the whole query Django's line carries); an answer marked as
    logged is one django.utils.log.log_response then leaves alone."""
    response = problem_response(
        status=400,
        code="bad-request",
        title="Bad request",
        detail=_bad_request_detail(exception),
    )
    if isinstance(exception, SuspiciousOperation):
        logging.getLogger(f"django.security.{type(exception).__name__}").warning(
            "%s",
            exception,
            extra={
                "status_code": 400,
                "path": request.path,
                "request_id": getattr(request, "request_id", ""),
            },
        )
        response._has_been_logged = True  # type: ignore[attr-defined]
    return problem_page(request, response)


def _bad_request_detail(exception: Exception | None) -> str:
    if isinstance(exception, DisallowedHost):
        return "The Host header names a host this service does not answer for."
    if isinstance(exception, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return f"The request has more than {limit} parameters."
    return "The request was refused (check the Host header and the request's form)."


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = f"No resource at {request.path}."
    if not request.path.endswith("/") and _routed(request.path_info + "/"):
        # Paths end with a slash here, and nothing redirects to it (APPEND_SLASH is off:
        # a redirected POST would lose its body): say so.
        detail += f" Did you mean {request.path}/?"
    return problem_page(
        request, problem_response(status=404, code="not-found", title="Not found", detail=detail)
    )


def _routed(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def server_error(request: HttpRequest) -> HttpResponse:
    request_id = getattr(request, "request_id", "")
    response = problem_response(
        status=500,
        code="internal-error",
        title="Internal server error",
        detail=f"An unexpected error occurred; quote request id {request_id} when reporting it.",
        request_id=request_id,
    )
    return problem_page(request, response)
