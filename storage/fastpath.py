"""The records API's everyday requests, answered without DRF's per-request machinery.

Profiling a record read under load showed more time in DRF's layers (request wrapping,
content negotiation, authentication and permission objects, response rendering) and in
round trips (pool check, token, record) than in reading the record. This module answers
the common successful requests of the records API directly:

- GET one record: the token, its grant, the storage's serving version and the record come
  back in one statement (access.selectors.token_lookup with `record`);
- PUT/PATCH with If-Match: one UPDATE that checks the token in the same statement
  (access.selectors.token_guard), for the version this process last served;
- GET a page, POST one record: the token lookup, then the same selector or service the
  DRF views call.

It takes only requests it answers exactly as the DRF views do (a Bearer token, JSON in and
out, no Idempotency-Key, no If-None-Match, no throttling configured). A write the service
refuses after the token was looked up here is answered here, by the API's one exception
handler (_refused); anything else goes to the DRF view, which stays the one definition
of the API's behaviour: a write handed over has written nothing (validation comes first,
a conditional UPDATE that matched nothing changed nothing, a violated constraint rolls
its statement back), so the DRF view answers it afresh. Database
outages are not handed over: they answer 503 (core.middleware), as the DRF view would.
storage/tests/test_fastpath.py checks that both paths answer the same.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import UnsupportedMediaType

from access.credentials import bearer_hash
from access.grants import may_access
from access.selectors import TokenRow, token_guard, token_lookup
from core.conditional import etag
from core.errors import DomainError
from core.exception_handler import problem_exception_handler
from core.json import dumps, loads
from core.parsers import check_charset
from core.problems import PROBLEM_CONTENT_TYPE
from factory.schema.ddl import table_changed
from storage import selectors, services
from storage.runtime import RecordRuntime, last_served, runtime_for_row
from storage.serializers import parse_key, represent
from storage.views import list_body, record_url

View = Callable[..., HttpResponse]


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer, before it becomes a response (an HttpResponse here, a WSGI response in
    storage.frontdoor, which takes successes only)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    content_type: str = "application/json"


# What DRF negotiates to our JSON renderer without a second thought. No Accept header
# reads as */*; an empty one accepts nothing, and DRF answers it 406 (not plain).
_PLAIN_ACCEPT = frozenset({"*/*", "application/json"})
# Single-record bodies; a larger body (a bulk) goes the general way.
_MAX_BODY = 64 * 1024
# Failures of a write that left nothing written: the general path answers them.
_REFUSED = (DomainError, IntegrityError, DataError)


def record_list(view: View) -> View:
    """Wrap RecordListView's view: GET a page, POST one record."""
    headers = drf_headers(view)

    @functools.wraps(view)  # keeps `cls` and `csrf_exempt`: the schema and CSRF see the view
    def dispatch(request: HttpRequest, name: str) -> HttpResponse:
        answer = None
        if plain(request):
            if request.method == "GET":
                answer = read_page(request, name)
            elif request.method == "POST":
                answer = _create(request, name)
        return _response(answer, headers) if answer else view(request, name=name)

    return dispatch


def record_detail(view: View) -> View:
    """Wrap RecordDetailView's view: GET one record, PUT and PATCH with If-Match."""
    headers = drf_headers(view)

    @functools.wraps(view)
    def dispatch(request: HttpRequest, name: str, key: str) -> HttpResponse:
        answer = None
        if plain(request):
            if request.method == "GET":
                answer = read_one(request, name, key)
            elif request.method in ("PUT", "PATCH"):
                answer = _update(request, name, key)
        return _response(answer, headers) if answer else view(request, name=name, key=key)

    return dispatch


def read_one(request: HttpRequest, name: str, raw_key: str) -> Answer | None:
    """GET one record."""
    runtime = last_served(name)
    if runtime is None or request.META.get("QUERY_STRING"):
        return None
    key = parse_key(runtime.definition["primary_key"], raw_key)
    if key is None:
        return None
    try:
        # The statement names the table and columns of the version last served here; if
        # that guess is stale (the storage was dropped or re-created), the statement may
        # fail, which a read can afford: the general path reads afresh.
        with services.savepoint_if_in_transaction():
            token = _token(request, name, record=runtime.select_by_key, key=key)
    except DatabaseError:
        return None
    if token is None or token.record is None or not _serves(token, runtime, "read"):
        return None
    body = represent(token.record, runtime.converters)
    return _json(200, body, ETag=etag(token.record._version))


def read_page(request: HttpRequest, name: str) -> Answer | None:
    """GET a page of records."""
    if "format" in request.GET:
        return None  # an export: streamed by the general path
    runtime = _runtime(request, name, "read")
    if runtime is None:
        return None
    try:
        found = selectors.record_list(runtime=runtime, params=request.GET)
    except _REFUSED:
        return None
    except DatabaseError as exc:
        return _handed_over(exc)
    return _json(200, list_body(request, found))


def _create(request: HttpRequest, name: str) -> Answer | None:
    # The token first: an unauthorized client's body is never waited for (core.slow_clients).
    # A token that may write but not read is answered without the record: by the DRF view.
    runtime = _runtime(request, name, "write", "read")
    if runtime is None:
        return None
    data = _body(request)
    if data is None:
        return None
    try:
        row = services.record_create(runtime=runtime, data=data)
    except _REFUSED as exc:
        return _refused(exc)
    except DatabaseError as exc:
        return _handed_over(exc)
    body = represent(row, runtime.converters)
    location = record_url(request, runtime, row.pk)
    return _json(201, body, Location=location, ETag=etag(row._version))


def _update(request: HttpRequest, name: str, raw_key: str) -> Answer | None:
    secret_hash = _secret_hash(request)
    if request.META.get("HTTP_IF_MATCH") is None or secret_hash is None:
        return None
    served = last_served(name)
    if served is not None and _verified_lately(secret_hash):
        # One statement: the UPDATE carries the token check (access.selectors.token_guard)
        # for the version this process last served; if either is stale, nothing is written.
        # Only for a token found valid here lately: the body is read before that statement,
        # and an unknown client's body is never waited for (core.slow_clients).
        runtime, guard = (
            served,
            token_guard(
                secret_hash=secret_hash,
                storage_name=name,
                storage_id=served.storage_id,
                version=served.version,
                access=("write", "read"),  # a write-only token: the DRF view answers
            ),
        )
    else:
        runtime, guard = _runtime(request, name, "write", "read"), None
    key = parse_key(runtime.definition["primary_key"], raw_key) if runtime else None
    data = _body(request) if key is not None else None
    if data is None:
        return None
    try:
        with services.savepoint_if_in_transaction():
            row = services.record_update(
                runtime=runtime,
                key=key,
                data=data,
                if_match=request.META["HTTP_IF_MATCH"],
                partial=request.method == "PATCH",
                guard=guard,
            )
    except services.NotApplied:
        return None
    except _REFUSED as exc:
        # Refused after the token was looked up in this request: answered here, as the DRF
        # view would. Under a guard the token was not: the DRF view decides (401/403 first).
        return None if guard is not None else _refused(exc)
    except DatabaseError as exc:
        return _handed_over(exc)
    return _json(200, represent(row, runtime.converters), ETag=etag(row._version))


def _refused(exc: Exception) -> Answer:
    """A write the service refused (nothing written), answered by the API's one exception
    handler, as the DRF view would answer it: the request is not run a second time there
    (a refused create used to INSERT twice)."""
    problem = problem_exception_handler(exc, {})
    if problem is None:  # not an answer the handler gives: the DRF view raises it
        raise exc
    return Answer(
        problem.status_code,
        dumps(problem.data),
        tuple((name, value) for name, value in problem.items() if name != "Content-Type"),
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _handed_over(exc: DatabaseError) -> None:
    """A statement met a table dropped or declared again under it (this process's guess
    of the version, or the storage changed since the token lookup): it wrote nothing, and
    the DRF view answers afresh from the storage as it is now. Anything else propagates."""
    if not table_changed(exc):
        raise exc
    return None


# --- the checks the DRF view would make ------------------------------------------------


def plain(request: HttpRequest) -> bool:
    """A request whose handling involves nothing but what this module does."""
    meta = request.META
    return (
        settings.RECORDS_FAST_PATH
        and not settings.THROTTLE_RATE
        and meta.get("HTTP_ACCEPT", "*/*") in _PLAIN_ACCEPT
        and "HTTP_IDEMPOTENCY_KEY" not in meta
        and "HTTP_IF_NONE_MATCH" not in meta
    )


def _secret_hash(request: HttpRequest) -> str | None:
    """The bearer secret's hash (access.credentials, as DRF's authentication reads it);
    None for any header it would refuse."""
    return bearer_hash(request.META.get("HTTP_AUTHORIZATION", ""))


def _token(request: HttpRequest, name: str, **record: Any) -> TokenRow | None:
    secret_hash = _secret_hash(request)
    if secret_hash is None:
        return None
    token = token_lookup(secret_hash=secret_hash, storage_name=name, **record)
    if token is not None:
        _verified[secret_hash] = time.monotonic()
    return token


# Secret hashes of tokens found valid by this process lately, and when (see _update). A
# guess that may cost time, never correctness: the UPDATE checks the token again.
_verified: dict[str, float] = {}
_VERIFIED_FOR = 30.0
_VERIFIED_MAX = 10_000


def _verified_lately(secret_hash: str) -> bool:
    if len(_verified) > _VERIFIED_MAX:
        _verified.clear()
    seen = _verified.get(secret_hash)
    return seen is not None and time.monotonic() - seen < _VERIFIED_FOR


def _serves(token: TokenRow, runtime: RecordRuntime, needed: str) -> bool:
    """The token may do `needed` here, and the storage serves the version of `runtime`."""
    storage = token.storage
    return (
        may_access(token, runtime.name, needed)
        and storage is not None
        and storage.id == runtime.storage_id
        and storage.serving_version == runtime.version
    )


def _runtime(request: HttpRequest, name: str, *needed: str) -> RecordRuntime | None:
    """The runtime to serve, when the token may do each of `needed` here."""
    token = _token(request, name)
    if token is None or token.storage is None or token.storage.serving_version is None:
        return None
    if not may_access(token, name, *needed):
        return None
    return runtime_for_row(name, token.storage)


def _body(request: HttpRequest) -> dict[str, Any] | None:
    """A JSON object body as core.parsers.JSONParser reads it; None for anything else."""
    meta = request.META
    content_type = meta.get("CONTENT_TYPE", "")
    if content_type != "application/json" and not content_type.startswith("application/json;"):
        return None
    if content_type != "application/json" and not _utf8(content_type):
        return None
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= _MAX_BODY:
        return None
    if getattr(request, "unsized_body", False):
        return None  # chunked: its length is not known (core.middleware); DRF reads it
    try:
        data = loads(request.body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _utf8(content_type: str) -> bool:
    try:
        check_charset(content_type)
    except UnsupportedMediaType:
        return False
    return True


def drf_headers(view: View) -> dict[str, str]:
    """The headers the DRF view adds to every response (Allow, Vary)."""
    instance = view.cls(**view.initkwargs)  # type: ignore[attr-defined]
    instance.setup(HttpRequest())
    return dict(instance.default_response_headers)


def _json(status: int, body: Any, **headers: str) -> Answer:
    return Answer(status, dumps(body), tuple(headers.items()))


def _response(answer: Answer, headers: dict[str, str]) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in (*headers.items(), *answer.headers):
        response[name] = value
    return response
