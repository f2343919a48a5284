"""Maps every exception to a problem-details response, and rolls the transaction back.

Domain errors map by category; DRF's and Django's own exceptions keep their status;
database failures become 503 (unreachable) or 409/400 (constraint/data), never a raw 500.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core import errors, metrics
from core.database import is_remote_failure, is_stale_plan
from core.problems import PROBLEM_CONTENT_TYPE, flatten_errors, problem_body, problem_response

logger = logging.getLogger("datastorage.errors")

# Most specific first: the first matching class decides the status.
_DOMAIN_STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.NotAuthenticated, 401),
    (errors.NotFound, 404),
    (errors.Forbidden, 403),
    (errors.ValidationFailed, 400),
    (errors.PreconditionRequired, 428),
    (errors.PreconditionFailed, 412),
    (errors.PayloadTooLarge, 413),
    (errors.Gone, 410),
    (errors.Unavailable, 503),
    (errors.Conflict, 409),
]

_DRF_CODES: dict[type[drf.APIException], tuple[str, str]] = {
    drf.ParseError: ("malformed-request", "Malformed request"),
    # Spelt once, by the domain errors the records core raises (core.errors).
    drf.AuthenticationFailed: (errors.AuthenticationFailed.code, errors.AuthenticationFailed.title),
    drf.NotAuthenticated: (errors.NotAuthenticated.code, errors.NotAuthenticated.title),
    drf.PermissionDenied: ("permission-denied", "Permission denied"),
    drf.NotFound: ("not-found", "Not found"),
    drf.MethodNotAllowed: ("method-not-allowed", "Method not allowed"),
    drf.NotAcceptable: ("not-acceptable", "Not acceptable"),
    drf.UnsupportedMediaType: ("unsupported-media-type", "Unsupported media type"),
    drf.Throttled: ("throttled", "Too many requests"),
}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    set_rollback()
    response = _problem(exc, context)
    if response is not None and _renders_html(context):
        # The browsable API renders the problem in its page: the page's own type, not
        # problem+json on an HTML body (a browser would show raw markup).
        response.content_type = None
    return response


def _renders_html(context: dict[str, Any]) -> bool:
    """Whether DRF negotiated an HTML renderer for this request (the browsable API)."""
    renderer = getattr(context.get("request"), "accepted_renderer", None)
    return getattr(renderer, "media_type", "") == "text/html"


def _problem(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, errors.DomainError):
        return _domain_response(exc)
    if isinstance(exc, Http404):
        return _response(404, "not-found", "Not found", str(exc) or "Not found.")
    if isinstance(exc, PermissionDenied):
        return _response(403, "permission-denied", "Permission denied", str(exc) or "Forbidden.")
    if isinstance(exc, drf.ValidationError):
        return _response(
            400,
            "validation-error",
            "Invalid input",
            "The request has invalid input; see errors.",
            errors=flatten_errors(exc.detail),
        )
    if isinstance(exc, drf.APIException):
        return _api_exception_response(exc)
    if isinstance(exc, DatabaseError):
        return _database_response(exc, context)
    return None  # DRF re-raises; core.middleware answers 500 with a request id.


def _domain_response(exc: errors.DomainError) -> Response:
    status, headers = domain_status(exc)
    return _response(status, exc.code, exc.title, exc.detail, headers=headers, **exc.extra)


def domain_problem_response(exc: errors.DomainError) -> HttpResponse:
    """The answer DRF's handler gives `exc`, as a plain Django response: for domain errors
    raised outside DRF (a body read by Django itself, in core.middleware)."""
    status, headers = domain_status(exc)
    return problem_response(
        status=status, code=exc.code, title=exc.title, detail=exc.detail, headers=headers,
        **exc.extra,
    )  # fmt: skip


def domain_status(exc: errors.DomainError) -> tuple[int, dict[str, str]]:
    """The status and headers of a domain error's answer."""
    status = next(
        code for cls, code in [*_DOMAIN_STATUS, (errors.DomainError, 400)] if isinstance(exc, cls)
    )
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if getattr(exc, "challenge", ""):
        headers["WWW-Authenticate"] = exc.challenge  # type: ignore[attr-defined]
    return status, headers


def _api_exception_response(exc: drf.APIException) -> Response:
    code, title = next(
        (value for cls, value in _DRF_CODES.items() if isinstance(exc, cls)),
        ("error", "Error"),
    )
    headers = {}
    if isinstance(exc, drf.Throttled):
        metrics.throttled()
        if exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return _response(exc.status_code, code, title, str(detail), headers=headers)


def _database_response(exc: DatabaseError, context: dict[str, Any]) -> Response | None:
    lost = isinstance(exc, OperationalError | InterfaceError)
    if lost or is_stale_plan(exc) or is_remote_failure(exc):
        logger.warning("database unavailable: %s", exc)
        metrics.database_unavailable()
        return _response(
            503,
            "database-unavailable",
            "Database unavailable",
            "The database cannot be reached right now; retry later.",
            headers={"Retry-After": "2"},
        )
    if isinstance(exc, IntegrityError):
        return _response(409, "conflict", "Conflict", "The write conflicts with stored data.")
    if isinstance(exc, DataError):
        return _response(400, "invalid-data", "Invalid data", "The database refused a value.")
    return None


def _response(
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = problem_body(status=status, code=code, title=title, detail=detail, **extra)
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
