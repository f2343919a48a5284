"""RFC 9457 problem details: the one error body of the whole API.

`type` is a relative URI reference naming the problem (`validation-error`,
`incompatible-change`, ...); docs/api.md lists them all.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from core.json import dumps, loads

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_body(
    *, status: int, code: str, title: str, detail: str, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": code, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HttpResponse:
    """A plain Django response, for code that runs outside DRF (middleware, URL 404s)."""
    body = problem_body(status=status, code=code, title=title, detail=detail, **extra)
    response = HttpResponse(dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def problem_page(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """`response` (a problem), or for a browser (one that prefers HTML to JSON, as DRF's
    negotiation picks the browsable API) the same problem as a readable HTML page, with the
    same status and headers. Django's own errors (no route, a bad Host) use it; DRF's
    views render problems in the browsable API's page instead."""
    if request.get_preferred_type(["application/json", "text/html"]) != "text/html":
        return response
    body = loads(response.content)
    page = render_to_string(
        "core/problem.html", {"problem": body, "json": dumps_pretty(body)}, request=None
    )
    html = HttpResponse(page, status=response.status_code)
    for name, value in response.items():
        if name != "Content-Type":
            html[name] = value
    if getattr(response, "_has_been_logged", False):
        html._has_been_logged = True  # type: ignore[attr-defined]
    return html


def dumps_pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error structure into {"fields.2.type": ["message", ...]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors",):
                path = prefix or "non_field_errors"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for sub_path, messages in flatten_errors(value, path).items():
                flat.setdefault(sub_path, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            if detail:
                flat[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                path = f"{prefix}.{index}" if prefix else str(index)
                for sub_path, messages in flatten_errors(item, path).items():
                    flat.setdefault(sub_path, []).extend(messages)
    else:
        flat[prefix or "non_field_errors"] = [str(detail)]
    return flat
