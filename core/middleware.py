"""Request id, one structured log line per request, body-size cap and the last-resort 500."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse

from core.problems import problem_response
from core.views import server_error

logger = logging.getLogger("datastorage.request")
error_logger = logging.getLogger("datastorage.errors")

# A client-sent id is echoed only when it is short and printable (it goes into our logs).
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self._too_large(request) or self.get_response(request)
        response["X-Request-ID"] = request_id
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id,
            },
        )
        return response

    def _too_large(self, request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(
                status=400,
                code="malformed-request",
                title="Malformed request",
                detail="Content-Length is not a number.",
            )
        limit = settings.MAX_REQUEST_BYTES
        # NDJSON is streamed event by event (each line capped); its total is not held.
        streamed = request.META.get("CONTENT_TYPE", "").startswith("application/x-ndjson")
        if length > limit and not streamed:
            return problem_response(
                status=413,
                code="payload-too-large",
                title="Payload too large",
                detail=f"The request body exceeds the limit of {limit} bytes.",
            )
        return None

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, Http404 | PermissionDenied | BadRequest | SuspiciousOperation):
            # Django answers these itself (404, 403, 400), e.g. in the admin: not a 500.
            return None
        request_id = getattr(request, "request_id", "")
        if isinstance(exc, OperationalError | InterfaceError):
            error_logger.warning("database unavailable: %s", exc, extra={"request_id": request_id})
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
