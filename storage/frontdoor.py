"""The records API's hot reads, answered in front of Django's request cycle.

Measured in-process, Django's request cycle (WSGIRequest, ten middleware, URL resolving,
HttpResponse) cost a record read about half of its CPU time, more than the read itself.
This WSGI middleware, wrapped around Django's handler in datastorage/wsgi.py, answers the
two reads pipelines make most, GET one record and GET a page of records, with the same
code as storage.fastpath, and hands every other request to Django unchanged.

It answers only what it can answer exactly as the whole stack would, headers and log line
included:

- the middleware list is the one it reproduces (MIDDLEWARE below), and no setting it does
  not reproduce is on; otherwise it is off, and says why (off_reason: the system check
  storage.W001 and a start-up log line, announce);
- a plain request (storage.fastpath.plain): GET, JSON, a Bearer token, no Idempotency-Key
  or If-None-Match, no throttling configured;
- nothing a middleware would act on: no Origin (CORS), no Cookie (sessions, CSRF), no
  body, no script prefix, a Host that ALLOWED_HOSTS accepts (Django's own check);
- a path of plain ASCII characters that the URL configuration routes to the records API;
- only successes: storage.fastpath answers None for anything else, and Django answers.

The headers Django's middleware adds to such an answer are computed once per view, by
the middleware's own code (see _Templates), and storage/tests/test_frontdoor.py compares
the two paths' answers header by header.
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
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, DatabaseError, close_old_connections, connections
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import resolve
from django.utils.functional import cached_property

from core.collector import resume_collector
from core.middleware import log_request, request_id_for
from storage import fastpath

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

# Storage names and record keys of plain ASCII (fastpath parses the key): anything else,
# percent-encoded text keys included, takes Django's way, which decodes paths in full.
_RECORDS = re.compile(r"/api/v1/storage/([a-z][a-z0-9_]*)/(?:([A-Za-z0-9._~-]+)/)?")
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

    The one rule: RecordReads decides with it, and the system check (storage.checks) and
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


class RecordReads:
    """WSGI middleware: GET one record, GET a page; everything else to `app` (Django)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._enabled: bool | None = None
        self._templates: _Templates | None = None
        setting_changed.connect(self._forget_settings)  # tests, mostly

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        match = _RECORDS.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "GET" or not self.enabled():
            return self.app(environ, start_response)
        started = time.perf_counter()
        resume_collector()
        try:
            answered = self._answer(environ, match)
        except DatabaseError:
            # A held connection that died (see _release_connection_if_due), or an outage:
            # Django answers, on a checked connection, or 503 as usual.
            answered = None
        except SuspiciousOperation:
            # The client's fault (more query parameters than Django parses): Django answers
            # 400 and logs it (core.views.bad_request), so it is not logged twice.
            answered = None
        except Exception:  # a bug here must not cost the request: Django answers it
            error_logger.exception("front door failed; Django answers the request")
            answered = None
        if answered is None:
            # Django's handler begins with request_started, whose close_old_connections
            # returns a connection held here to the pool (or drops it if it failed).
            return self.app(environ, start_response)
        answer, request, template = answered
        request_id = request_id_for(environ)
        headers = [
            *template,
            *answer.headers,
            ("Content-Length", str(len(answer.body))),
            ("X-Request-ID", request_id),
        ]
        _release_connection_if_due()
        start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers)
        log_request("GET", request.path, answer.status, started, request_id)
        return [answer.body]

    def enabled(self) -> bool:
        if self._enabled is None:
            self._enabled = off_reason() is None
        return self._enabled

    def _forget_settings(self, **kwargs: Any) -> None:
        self._enabled = self._templates = None

    def _answer(
        self, environ: dict[str, Any], match: re.Match[str]
    ) -> tuple[fastpath.Answer, HttpRequest, tuple[tuple[str, str], ...]] | None:
        if environ.get("CONTENT_LENGTH") not in (None, "", "0") or any(
            environ.get(name) for name in _HANDLED_BY_DJANGO
        ):
            return None
        request = _Request(environ)
        if not fastpath.plain(request) or not _host_allowed(request):
            return None
        name, key = match.groups()
        answer = (
            fastpath.read_page(request, name)
            if key is None
            else fastpath.read_one(request, name, key)
        )
        if answer is None:
            return None
        if self._templates is None:
            self._templates = _Templates()
        return answer, request, self._templates.headers(key is None, request)


class _Request(HttpRequest):
    """What storage.fastpath and Django's host, scheme and URL helpers read of a request,
    from the WSGI environ without the rest of WSGIRequest (HttpRequest.__init__ included:
    its empty QueryDicts were a twentieth of a read)."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.META = environ
        self.method = environ["REQUEST_METHOD"]
        self.path = self.path_info = environ["PATH_INFO"]

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
    """The headers Django's middleware adds to a successful answer of the record list and
    record detail views, computed once by that middleware's own code."""

    def __init__(self) -> None:
        probes = {"list": "/api/v1/storage/probe/", "detail": "/api/v1/storage/probe/1/"}
        self._cache = {
            (kind == "list", secure): _template(path, secure)
            for kind, path in probes.items()
            for secure in (False, True)
        }

    def headers(self, is_list: bool, request: HttpRequest) -> tuple[tuple[str, str], ...]:
        return self._cache[(is_list, request.is_secure())]


def _template(path: str, secure: bool) -> tuple[tuple[str, str], ...]:
    from corsheaders.middleware import CorsMiddleware  # an app of its own: import late

    view = resolve(path).func
    probe = _Request(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "wsgi.url_scheme": "https" if secure else "http",
            "SERVER_NAME": "probe",
            "SERVER_PORT": "443" if secure else "80",
        }
    )
    if secure and settings.SECURE_PROXY_SSL_HEADER:
        header, value = settings.SECURE_PROXY_SSL_HEADER
        probe.META[header] = value
    response = HttpResponse(content_type="application/json")
    for name, value in fastpath.drf_headers(view).items():
        response[name] = value
    # In the order Django runs them on the way out (the reverse of MIDDLEWARE); those not
    # called add nothing to such an answer (no session or message touched, no CSRF cookie,
    # Content-Length and X-Request-ID are set per answer).
    CorsMiddleware(_unused).add_response_headers(probe, response)
    XFrameOptionsMiddleware(_unused).process_response(probe, response)
    SecurityMiddleware(_unused).process_response(probe, response)
    return tuple(response.items())


def _unused(request: HttpRequest) -> HttpResponse:
    raise AssertionError("only the middleware's response half is used")
