"""The records API's everyday requests, answered in front of Django's request cycle.

Measured in-process, Django's request cycle (WSGIRequest, ten middleware, URL resolving,
DRF's request, negotiation and response) cost a record read about half of its CPU time,
more than the read itself. This WSGI middleware, wrapped around Django's handler in
datastorage/wsgi.py, is the records API's second adapter (the first is the DRF viewset,
storage.views): a gate that decides which requests it may take, and the header templates
of Django's middleware. What it takes, the records operations (storage.records) answer,
successes and refusals alike; it hands nothing it has begun to Django, so no request runs
its statements twice.

The gate takes only what the whole stack would answer the same way, headers and log line
included:

- the middleware list is the one it reproduces (MIDDLEWARE below), and no setting it does
  not reproduce is on; otherwise it is off, and says why (off_reason: the system check
  storage.W001 and a start-up log line, announce). RECORDS_FAST_PATH=0 closes it;
- GET one record or a page (not an export), POST, PUT, PATCH (a JSON body of known length,
  at most 64 KiB) and DELETE, with JSON answers accepted, no Idempotency-Key, no
  throttling configured;
- nothing a middleware would act on: no Origin (CORS), no Cookie (sessions, CSRF), no
  chunked body, no script prefix, a Host that ALLOWED_HOSTS accepts (Django's own check);
- a path of plain ASCII characters that the URL configuration routes to the records API.

Credentials come first (access.credentials.authenticate), the body only after the grant
is checked: an unauthorised client's body is never waited for (core.slow_clients).
storage/tests/test_frontdoor.py and test_parity.py compare its answers with Django's,
header by header.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, SuspiciousOperation
from django.core.handlers.wsgi import LimitedStream
from django.core.signals import setting_changed
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
)
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import resolve, set_script_prefix
from django.utils.functional import cached_property
from rest_framework.exceptions import UnsupportedMediaType

from access.credentials import bearer_hash, presented_hash, token_for
from access.grants import may_access
from access.selectors import TokenRow, token_guard
from core.collector import resume_collector
from core.errors import UniqueViolation, ValidationFailed
from core.json import dumps, loads
from core.middleware import NO_LENGTH_STATUSES, log_request, request_id_for
from core.parsers import JSONParser, check_charset
from core.views import server_error
from factory.schema.ddl import connection_lost, table_changed
from factory.schema.types.keys import ROUTED_SEGMENTS
from storage import records, services
from storage.runtime import RecordRuntime, last_served
from storage.serializers import parse_key

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The middleware whose effect on a successful read this module reproduces. Another list
# (a middleware added, removed or reordered) turns the front door off: Django answers all.
MIDDLEWARE = (
    "core.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.RequestChecksMiddleware",
)

# Storage names and record keys of plain ASCII (the front door parses the key): anything else,
# percent-encoded text keys included, takes Django's way, which decodes paths in full.
_RECORDS = re.compile(r"/api/v1/storage/([a-z][a-z0-9_]*)/(?:([A-Za-z0-9._~-]+)/)?")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# What each route answers (DRF answers anything else 405, with its Allow header).
_LIST_METHODS = frozenset({"GET", "POST"})
_DETAIL_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
# The URL pattern names Django's resolver gives these routes (storage.urls): the metrics
# count both doors under one route. By "is it the list".
_ROUTE_NAMES = {True: "record-list", False: "record-detail"}
# Bodies of one record, or a small bulk; a larger body goes Django's way.
_MAX_BODY = 64 * 1024
# What DRF negotiates to our JSON renderer without a second thought. No Accept header
# reads as */*; an empty one accepts nothing, and DRF answers it 406.
_PLAIN_ACCEPT = frozenset({"*/*", "application/json"})
# What sends a request to Django: headers a middleware acts on, and what makes Django
# derive a script prefix (get_script_name: mod_rewrite's variables).
_HANDLED_BY_DJANGO = (
    "HTTP_ORIGIN",
    "HTTP_COOKIE",
    "HTTP_TRANSFER_ENCODING",
    "SCRIPT_NAME",
    "SCRIPT_URL",
    "REDIRECT_URL",
)

# How long a thread keeps its database connection between reads (see
# _release_connection_if_due).
_HOLD_SECONDS = 30.0

error_logger = logging.getLogger("datastorage.errors")
logger = logging.getLogger("datastorage.frontdoor")


@dataclass(frozen=True)
class Off:
    """Why the front door is off: every record read goes through Django's request cycle."""

    reason: str
    deliberate: bool = False  # RECORDS_FAST_PATH=0: chosen, not lost by accident


def off_reason() -> Off | None:
    """Why the current settings turn the front door off; None when it is on.

    The one rule: FrontDoor decides with it, and the system check (storage.checks) and
    the start-up log line (announce) say what it found.
    """
    if not settings.RECORDS_FAST_PATH:
        return Off("RECORDS_FAST_PATH=0 sends every request through Django", deliberate=True)
    middleware = tuple(settings.MIDDLEWARE)
    if middleware != MIDDLEWARE:
        return Off(_middleware_difference(middleware))
    if settings.FORCE_SCRIPT_NAME is not None:
        return Off("settings.FORCE_SCRIPT_NAME is set (a script prefix)")
    for name in ("PREPEND_WWW", "DISALLOWED_USER_AGENTS", "SECURE_SSL_REDIRECT"):
        if getattr(settings, name):
            return Off(f"settings.{name} is set (Django's middleware acts on every request)")
    # CORS for every path (django-cors-headers' default): one Vary for all answers
    if getattr(settings, "CORS_URLS_REGEX", r"^.*$") != r"^.*$":
        return Off("settings.CORS_URLS_REGEX is not r'^.*$' (CORS headers on some paths only)")
    return None


def _middleware_difference(middleware: tuple[str, ...]) -> str:
    added = [name for name in middleware if name not in MIDDLEWARE]
    missing = [name for name in MIDDLEWARE if name not in middleware]
    parts = [f"{', '.join(added)} added"] if added else []
    parts += [f"{', '.join(missing)} missing"] if missing else []
    detail = "; ".join(parts) or "the same middleware in another order, or repeated"
    return f"settings.MIDDLEWARE is not the list it reproduces (frontdoor.MIDDLEWARE): {detail}"


def announce(*, asgi: bool = False) -> None:
    """One log line when a server entry point starts with the front door off, and why:
    WARNING when the speed-up is lost, INFO when RECORDS_FAST_PATH=0 chose it. Nothing
    when the door is on. The ASGI entry point (datastorage/asgi.py) never has it: the front
    door is WSGI middleware."""
    off = off_reason()
    if off is None and asgi:
        off = Off("the ASGI entry point serves every request through Django (WSGI only)")
    if off is None:
        return
    level = logging.INFO if off.deliberate else logging.WARNING
    entry = "asgi" if asgi else "wsgi"
    logger.log(level, "front door off: %s", off.reason, extra={"entry": entry})


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer as the WSGI server is handed it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class FrontDoor:
    """WSGI middleware: the records requests its gate takes; everything else to `app`."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._enabled: bool | None = None
        self._templates: _Templates | None = None
        setting_changed.connect(self._forget_settings)  # tests, mostly

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        reply = self.respond(environ)
        if reply is None:
            # Django's handler begins with request_started, whose close_old_connections
            # returns a connection held here to the pool (or drops it if it failed).
            return self.app(environ, start_response)
        start_response(f"{reply.status} {HTTPStatus(reply.status).phrase}", reply.headers)
        return [reply.body]

    def respond(self, environ: dict[str, Any]) -> Reply | None:
        """The answer to a request the gate takes; None for one Django answers."""
        started = time.perf_counter()
        taken = self._gate(environ)
        if taken is None:
            return None
        request, name, key = taken
        set_script_prefix("/")  # as Django's handler does per request (no SCRIPT_NAME here)
        resume_collector()
        request_id = request_id_for(environ)
        route = "list" if key is None else "detail"
        try:
            answer = _answer(request, name, key)
        except _HandedOver:
            return None
        except Exception as exc:  # noqa: BLE001 (a refusal, or a bug: answered 500)
            answer = records.refusal(exc)
            if answer is None:
                answer, route = _server_error(request, request_id), "none"
        if self._templates is None:
            self._templates = _Templates()
        body = b"" if answer.data is None else dumps(answer.data)
        headers = [*self._templates.headers(route, request), *answer.headers]
        if body:
            headers.append(("Content-Type", answer.content_type))
        if answer.status not in NO_LENGTH_STATUSES:
            headers.append(("Content-Length", str(len(body))))
        headers.append(("X-Request-ID", request_id))
        _release_connection_if_due()
        log_request(
            request.method,
            request.path,
            answer.status,
            started,
            request_id,
            route=_ROUTE_NAMES[key is None],
            door="front",
        )
        return Reply(answer.status, headers, body)

    def _gate(self, environ: dict[str, Any]) -> tuple[_Request, str, str | None] | None:
        match = _RECORDS.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return None
        name, key = match.groups()
        if key in ROUTED_SEGMENTS:
            return None  # the change feed: Django's way (storage.views)
        method = environ.get("REQUEST_METHOD", "")
        if method not in (_LIST_METHODS if key is None else _DETAIL_METHODS):
            return None
        if not self.enabled():
            return None
        try:
            request = _taken(environ, method, key is None)
        except SuspiciousOperation:
            # The client's fault (more query parameters than Django parses): Django answers
            # 400 and logs it (core.views.bad_request), so it is not logged twice.
            return None
        return None if request is None else (request, name, key)

    def enabled(self) -> bool:
        if self._enabled is None:
            self._enabled = off_reason() is None
        return self._enabled

    def _forget_settings(self, **kwargs: Any) -> None:
        self._enabled = self._templates = None


# --- the gate ----------------------------------------------------------------------------


def _taken(environ: dict[str, Any], method: str, is_list: bool) -> _Request | None:
    """The request, when the gate takes it (see the module's docstring); else None."""
    if any(environ.get(name) for name in _HANDLED_BY_DJANGO):
        return None
    length = environ.get("CONTENT_LENGTH")
    if method in _WITH_BODY:
        if not _json_utf8(environ.get("CONTENT_TYPE", "")):
            return None  # DRF negotiates, or answers 415
        if not _ascii_digits(length) or not 0 < int(length) <= _body_limit():
            return None  # no body, or a large one: Django's way
    elif length not in (None, "", "0"):
        return None
    request = _Request(environ)
    if not _plain(request) or not _host_allowed(request):
        return None
    if environ.get("QUERY_STRING"):
        request.GET  # noqa: B018 (parsed as Django parses it: too many fields is its 400)
    if is_list and method == "GET" and "format" in request.GET:
        return None  # an export: streamed by Django, which holds a slow-client slot
    return request


def _plain(request: HttpRequest) -> bool:
    """Nothing about the request but what the records operations decide."""
    meta = request.META
    return (
        not settings.THROTTLE_RATE
        and meta.get("HTTP_ACCEPT", "*/*") in _PLAIN_ACCEPT
        and "HTTP_IDEMPOTENCY_KEY" not in meta
    )


def _json_utf8(content_type: str) -> bool:
    """A JSON body as core.parsers.JSONParser reads it (UTF-8, the charset named or not)."""
    if content_type == "application/json":
        return True
    if not content_type.startswith("application/json;"):
        return False
    try:
        check_charset(content_type)
    except UnsupportedMediaType:  # Django answers 415
        return False
    return True


def _ascii_digits(text: str | None) -> bool:
    return bool(text) and text.isascii() and text.isdigit()  # type: ignore[union-attr]


def _body_limit() -> int:
    return min(_MAX_BODY, settings.MAX_REQUEST_BYTES)


_NO_QUERY = QueryDict()  # what a record's answer reads of the query: nothing


class _HandedOver(Exception):
    """A read that found the connection this thread held since an earlier read dead (the
    database restarted, the connection was killed): its statement never ran, and Django
    answers it on a checked connection (see _release_connection_if_due)."""


# --- answers: the records operations, with credentials first -----------------------------


def _answer(request: _Request, name: str, key: str | None) -> records.Answer:
    method = request.method
    if method == "GET":
        try:
            return _read_page(request, name) if key is None else _read_one(request, name, key)
        except (OperationalError, InterfaceError) as exc:
            if connection_lost():  # the connection held since an earlier read died
                raise _HandedOver from exc
            raise  # a timeout, an outage: answered here (503), not run a second time
    _fresh_connection()  # a write never runs on a connection held unchecked
    if key is None:  # POST: the gate takes no other write on a list
        return records.create(_described(request, name, _authenticated(request, name)))
    if method == "DELETE":
        return records.delete(_described(request, name, _authenticated(request, name), key))
    return _update(request, name, key, partial=method == "PATCH")


def _read_page(request: _Request, name: str) -> records.Answer:
    return records.read_page(_described(request, name, _authenticated(request, name)))


def _read_one(request: _Request, name: str, key: str) -> records.Answer:
    """GET one record: the token, its grant, the storage's serving version and the record
    in one statement, when this process served the storage before (its guess of the
    version, checked by the operation against the storage row that comes back)."""
    guess = last_served(name)
    if guess is not None and guess.distributed:
        guess = None  # joined with the token, its read is a multi-shard plan: two reads
    parsed = parse_key(guess.definition["primary_key"], key) if guess is not None else None
    if guess is not None and parsed is not None:
        try:
            with services.savepoint_if_in_transaction():
                token = _authenticated(request, name, record=guess.select_by_key, key=parsed)
        except DatabaseError as exc:
            if isinstance(exc, OperationalError | InterfaceError) and not table_changed(exc):
                raise
            # A stale guess (the table was dropped, or its key is of another type now):
            # a read that fails costs a second lookup, never the answer.
        else:
            known = records.KnownRecord(guess, token.record)
            return records.read_one(_described(request, name, token, key, known=known))
    return records.read_one(_described(request, name, _authenticated(request, name), key))


def _update(request: _Request, name: str, key: str, *, partial: bool) -> records.Answer:
    """PUT or PATCH. For a token this process found lately that it may write and read this
    storage, with If-Match: one UPDATE that checks the token in the same statement
    (access.selectors.token_guard), for the version this process last served. What it
    cannot answer (it matched nothing, or the body is invalid) the records operation
    answers after the token lookup, without running the same statement again."""
    missed = None
    guess = last_served(name)
    secret_hash = bearer_hash(request.META.get("HTTP_AUTHORIZATION", ""))
    if (
        guess is not None
        and not guess.distributed  # see _read_one
        and secret_hash is not None
        and "HTTP_IF_MATCH" in request.META
        and _verified_lately(secret_hash, name)
    ):
        guarded = _guarded_update(request, guess, secret_hash, key, partial=partial)
        if isinstance(guarded, records.Answer):
            return guarded
        missed = guarded
    token = _authenticated(request, name)
    described = _described(request, name, token, key, missed=missed)
    return records.update(described, partial=partial)


def _guarded_update(
    request: _Request, runtime: RecordRuntime, secret_hash: str, key: str, *, partial: bool
) -> records.Answer | tuple[int, int] | None:
    """The answer, or (storage id, version) when the UPDATE matched nothing, or None when
    it could not run (nothing was written, no statement ran but a failed one)."""
    parsed = parse_key(runtime.definition["primary_key"], key)
    if parsed is None:
        return None
    try:
        data = request.json_body()
    except Exception:  # noqa: BLE001 (the operation reads it again, and refuses it)
        return None
    guard = token_guard(
        secret_hash=secret_hash,
        storage_name=runtime.name,
        storage_id=runtime.storage_id,
        version=runtime.version,
        access=_GUARDED,
    )
    try:
        with services.savepoint_if_in_transaction():
            row = services.record_update(
                runtime=runtime,
                key=parsed,
                data=data,
                if_match=request.META["HTTP_IF_MATCH"],
                partial=partial,
                guard=guard,
            )
    except services.NotApplied:
        return runtime.storage_id, runtime.version
    except ValidationFailed:
        return None  # refused before any statement: after the token lookup, it is answered
    except UniqueViolation as exc:
        # The UPDATE ran (its guard held: token, grant and version): its refusal stands.
        answer = records.refusal(exc)
        if answer is None:
            raise
        return answer
    except (DatabaseError, IntegrityError) as exc:
        if not table_changed(exc):
            raise
        return None  # another table now: the operation resolves the storage afresh
    return records.updated(row, runtime.converters)  # the guard held: the token may read


def _authenticated(request: _Request, name: str, **record: Any) -> TokenRow:
    """The token (access.credentials: 401 for anything else). One that may write and read
    this storage is remembered (see _update)."""
    secret_hash = presented_hash(request.META.get("HTTP_AUTHORIZATION", ""))
    token = token_for(secret_hash, name, **record)
    if may_access(token, name, *_GUARDED):
        _verified[(secret_hash, name)] = time.monotonic()
    return token


# What a guarded UPDATE asks of a token (a write-only token is answered without the record,
# by the records operation).
_GUARDED = ("write", "read")
# (secret hash, storage) of tokens this process found lately that they may do _GUARDED
# there, and when (see _update): only their bodies are read before this request's token
# check, so a client without that grant is never waited for (core.slow_clients). A guess
# that may cost time, never correctness: the UPDATE checks the token and grant again.
_verified: dict[tuple[str, str], float] = {}
_VERIFIED_FOR = 30.0
_VERIFIED_MAX = 10_000


def _verified_lately(secret_hash: str, name: str) -> bool:
    if len(_verified) > _VERIFIED_MAX:
        _verified.clear()
    seen = _verified.get((secret_hash, name))
    return seen is not None and time.monotonic() - seen < _VERIFIED_FOR


def _described(
    request: _Request,
    name: str,
    token: TokenRow,
    key: str | None = None,
    **more: Any,
) -> records.RecordRequest:
    meta = request.META
    return records.RecordRequest(
        name=name,
        principal=token,
        query=request.GET if key is None else _NO_QUERY,  # not parsed for a record
        path=request.path,
        absolute=request.build_absolute_uri,
        key=key,
        body=request.json_body,
        if_match=meta.get("HTTP_IF_MATCH"),
        if_none_match=meta.get("HTTP_IF_NONE_MATCH"),
        prefer=meta.get("HTTP_PREFER"),
        storage=token.storage,
        storage_known=True,
        **more,
    )


def _server_error(request: _Request, request_id: str) -> records.Answer:
    """A bug's answer: the 500 Django's middleware gives an exception no view answered."""
    request.request_id = request_id  # type: ignore[attr-defined]
    error_logger.exception(
        "unhandled exception", extra={"request_id": request_id, "path": request.path}
    )
    return _from_response(server_error(request))


def _from_response(response: HttpResponse) -> records.Answer:
    headers = tuple((name, value) for name, value in response.items() if name != "Content-Type")
    return records.Answer(
        response.status_code, loads(response.content), headers, response["Content-Type"]
    )


def _fresh_connection() -> None:
    """Return a connection this thread held since its last read to the pool, which checks
    it when it is taken again: a write on a connection that died unseen could not tell
    whether it was written (reads are answered by Django then: _HandedOver)."""
    if not connections[DEFAULT_DB_ALIAS].in_atomic_block:
        close_old_connections()


class _Request(HttpRequest):
    """What the front door and Django's host, scheme and URL helpers read of a request,
    from the WSGI environ without the rest of WSGIRequest (HttpRequest.__init__ included:
    its empty QueryDicts were a twentieth of a read)."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.META = environ
        self.method = environ["REQUEST_METHOD"]
        self.path = self.path_info = environ["PATH_INFO"]
        self._parsed: tuple[Any, Exception | None] | None = None

    def json_body(self) -> Any:
        """The body, parsed once as core.parsers.JSONParser parses it for DRF (the same
        refusals); read only when first asked for."""
        if self._parsed is None:
            length = int(self.META["CONTENT_LENGTH"])
            stream = LimitedStream(self.META["wsgi.input"], length)
            try:
                self._parsed = (JSONParser().parse(stream, self.META["CONTENT_TYPE"]), None)
            except Exception as exc:  # noqa: BLE001 (raised again to each caller)
                self._parsed = (None, exc)
        data, error = self._parsed
        if error is not None:
            raise error
        return data

    @cached_property
    def GET(self) -> QueryDict:  # type: ignore[override]
        query = self.META.get("QUERY_STRING", "").encode("iso-8859-1")
        return QueryDict(query, encoding=settings.DEFAULT_CHARSET)

    def _get_scheme(self) -> str:
        return self.META.get("wsgi.url_scheme", "http")


def _release_connection_if_due() -> None:
    """Keep this thread's database connection for its next request, for a while.

    Django returns the connection to the pool at the end of each request, and the pool
    checks it with a round trip when it is taken again: for a read by key that was a third
    of the database work. A thread serving reads here keeps its connection instead, with
    no check: a read that fails on it (the database restarted, the connection was killed)
    is answered by Django, whose request_started closes the failed connection before it
    takes a checked one from the pool. A request Django serves returns it too, and a
    connection held longer than _HOLD_SECONDS goes back to the pool after its request, so
    the pool's own lifetime rules still apply to it.
    """
    connection = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy looks it up
    if connection.in_atomic_block:
        return  # never inside a transaction (the test suite's)
    held = connection.close_at
    if connection.errors_occurred or (
        held is not None and time.monotonic() >= held + _HOLD_SECONDS
    ):
        close_old_connections()


def _host_allowed(request: HttpRequest) -> bool:
    """Django's own Host check (CommonMiddleware calls get_host() on every request)."""
    try:
        request.get_host()
    except DisallowedHost:  # Django answers 400
        return False
    return True


class _Templates:
    """The headers DRF and Django's middleware add to every answer of the record list and
    record detail routes (Content-Type, Content-Length and X-Request-ID are set per
    answer), computed once by their own code."""

    def __init__(self) -> None:
        # "none": an answer no view gave (a 500 from Django's middleware): no DRF headers.
        probes = {"list": "/api/v1/storage/probe/", "detail": "/api/v1/storage/probe/1/"}
        self._cache = {
            (route, secure): _template(probes.get(route), secure)
            for route in ("list", "detail", "none")
            for secure in (False, True)
        }

    def headers(self, route: str, request: HttpRequest) -> tuple[tuple[str, str], ...]:
        return self._cache[(route, request.is_secure())]


def _template(path: str | None, secure: bool) -> tuple[tuple[str, str], ...]:
    from corsheaders.middleware import CorsMiddleware  # an app of its own: import late

    probe = _Request(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path or "/api/v1/storage/probe/",
            "wsgi.url_scheme": "https" if secure else "http",
            "SERVER_NAME": "probe",
            "SERVER_PORT": "443" if secure else "80",
        }
    )
    if secure and settings.SECURE_PROXY_SSL_HEADER:
        header, value = settings.SECURE_PROXY_SSL_HEADER
        probe.META[header] = value
    response = HttpResponse()
    drf_headers = _drf_headers(resolve(path).func) if path is not None else {}
    for name, value in drf_headers.items():
        response[name] = value
    # In the order Django runs them on the way out (the reverse of MIDDLEWARE); those not
    # called add nothing to such an answer (no session or message touched, no CSRF cookie,
    # Content-Length and X-Request-ID are set per answer).
    CorsMiddleware(_unused).add_response_headers(probe, response)
    XFrameOptionsMiddleware(_unused).process_response(probe, response)
    SecurityMiddleware(_unused).process_response(probe, response)
    return tuple((name, value) for name, value in response.items() if name != "Content-Type")


def _drf_headers(view: Any) -> dict[str, str]:
    """The headers the viewset adds to every answer of the route `view` serves (Allow,
    Vary), set up as DRF's ViewSetMixin.as_view sets up an instance for a request."""
    instance = view.cls(**view.initkwargs)
    instance.action_map = view.actions
    for method, action in view.actions.items():
        setattr(instance, method, getattr(instance, action))
    instance.setup(HttpRequest())
    return dict(instance.default_response_headers)


def _unused(request: HttpRequest) -> HttpResponse:
    raise AssertionError("only the middleware's response half is used")
