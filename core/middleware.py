"""Request id, one structured log line per request, the last-resort 500, and the checks
made before routing (NUL in the path, body size)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.core.handlers.wsgi import LimitedStream
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse

from core import metrics
from core.collector import resume_collector
from core.database import is_stale_plan
from core.errors import DomainError, PayloadTooLarge
from core.exception_handler import domain_problem_response
from core.problems import problem_response
from core.slow_clients import CappedInput
from core.views import server_error

logger = logging.getLogger("datastorage.request")
error_logger = logging.getLogger("datastorage.errors")

# A client-sent id is echoed only when it is short and printable (it goes into our logs).
# Used with fullmatch: `$` alone would let a trailing newline into a response header.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_for(meta: dict) -> str:
    """The client's X-Request-ID when it is acceptable, else a new id."""
    incoming = meta.get("HTTP_X_REQUEST_ID", "")
    return incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex


def log_request(
    method: str,
    path: str,
    status: int,
    started: float,
    request_id: str,
    *,
    route: str,
    door: str = "django",
) -> None:
    """The one log line of a request, and its metrics (also written by storage.frontdoor,
    door="front"): both paths pass here once per request. `route` is the URL pattern's
    name, never the path, whose values a client chooses."""
    duration = time.perf_counter() - started
    metrics.request_observed(route=route, method=method, status=status, seconds=duration, door=door)
    logger.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration * 1000, 2),
            "request_id": request_id,
        },
    )


def route_name(request: HttpRequest) -> str:
    """The name of the URL pattern that served `request` ("unmatched" when none did, e.g. a
    404 for a path no route knows): a label value from the URL configuration only."""
    match = request.resolver_match
    if match is None:
        return "unmatched"
    return match.view_name or "unnamed"


# Answers without a body that carry no Content-Length: RFC 9110 forbids it on 204, and on
# 304 it would have to be the length of the 200 answer. CommonMiddleware sets one on every
# answer; granian drops it where the records front door sends none (storage.frontdoor).
NO_LENGTH_STATUSES = frozenset({204, 304})


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        resume_collector()
        request_id = request_id_for(request.META)
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        if response.status_code in NO_LENGTH_STATUSES:
            response.headers.pop("Content-Length", None)
        log_request(
            request.method or "",
            request.path,
            response.status_code,
            started,
            request_id,
            route=route_name(request),
        )
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, Http404 | PermissionDenied | BadRequest | SuspiciousOperation):
            # Django answers these itself (404, 403, 400), e.g. in the admin: not a 500.
            return None
        if isinstance(exc, DomainError):
            # Outside DRF (a body read by Django itself): the same answer DRF's would be.
            return domain_problem_response(exc)
        request_id = getattr(request, "request_id", "")
        if isinstance(exc, OperationalError | InterfaceError) or is_stale_plan(exc):
            error_logger.warning("database unavailable: %s", exc, extra={"request_id": request_id})
            metrics.database_unavailable()
            return problem_response(
                status=503,
                code="database-unavailable",
                title="Database unavailable",
                detail="The database cannot be reached right now; retry later.",
                headers={"Retry-After": "2"},
            )
        error_logger.exception(
            "unhandled exception", extra={"request_id": request_id, "path": request.path}
        )
        return server_error(request)


class RequestChecksMiddleware:
    """Refusals decided before routing: a NUL in the path, an announced body over the
    limit. The innermost middleware, so that its answers get every header the others add
    (security headers, X-Frame-Options, CORS) like any other answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self._nul_in_path(request) or self._too_large(request) or self.get_response(request)

    def _nul_in_path(self, request: HttpRequest) -> HttpResponse | None:
        # No storage name or record key can hold NUL (PostgreSQL text cannot): nothing lives
        # at such a path, and the value must not reach a query, where it is a database error.
        if "\x00" not in request.path:
            return None
        return problem_response(
            status=404,
            code="not-found",
            title="Not found",
            detail="No resource has a NUL character in its path.",
        )

    def _too_large(self, request: HttpRequest) -> HttpResponse | None:
        """Refuses an announced body over the limit. Reads nothing: a body is read only by
        a view that has authenticated the request (core.slow_clients)."""
        meta = request.META
        ndjson = meta.get("CONTENT_TYPE", "").startswith("application/x-ndjson")
        # NDJSON is streamed event by event (each line capped), under a total of its own.
        limit = settings.MAX_INGEST_BYTES if ndjson else settings.MAX_REQUEST_BYTES
        announced = meta.get("CONTENT_LENGTH")
        if announced:
            try:
                length = int(announced)
            except ValueError:
                return problem_response(
                    status=400,
                    code="malformed-request",
                    title="Malformed request",
                    detail="Content-Length is not a number.",
                )
            if length > limit:
                return _payload_too_large(limit)
            return None
        if meta.get("wsgi.input_terminated") and meta.get("HTTP_TRANSFER_ENCODING"):
            # A chunked body: its size is announced nowhere. Django and DRF read a body only
            # when Content-Length says there is one: it says "at most the limit", and the
            # input refuses more (PayloadTooLarge) as it arrives.
            body = CappedInput(meta["wsgi.input"], limit=limit)
            request._stream = LimitedStream(body, limit + 1)  # type: ignore[attr-defined]
            meta["CONTENT_LENGTH"] = str(limit)
            request.unsized_body = True  # type: ignore[attr-defined]
        return None


def _payload_too_large(limit: int) -> HttpResponse:
    return domain_problem_response(PayloadTooLarge.body(limit))
