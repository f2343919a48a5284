"""Swagger UI and ReDoc with every contract: the global API description and, for a person
signed in to the admin (their session: access.authentication), the contract of each storage
they hold a grant on (factory.selectors.storage_list), picked from a selector; `?storage=`
picks one first (the admin's storage page links so). Both pages are served offline: their
scripts and styles from drf-spectacular-sidecar (settings), no external font or image, and
a Content-Security-Policy that lets them load from this server only.

Swagger UI's "Try it out" runs with the session's rights and sends the CSRF token on
unsafe methods; a token can still be given with its Authorize button.
"""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response

from access.authentication import AdminSessionAuthentication
from factory.selectors import storage_list

GLOBAL = "datastorage API (all endpoints)"

# The pages may load from this server only: ReDoc's sidebar shows Redocly's logo from their
# CDN, which this refuses (the logo then hides itself); nothing else reaches out.
OFFLINE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    )
)


def contracts(request: Request) -> list[dict[str, str]]:
    """The documents the signed-in person may read: the global one, then one per storage."""
    documents = [{"name": GLOBAL, "url": reverse("schema")}]
    principal = request.user if getattr(request.user, "is_authenticated", False) else None
    if principal is not None:
        documents += [
            {"name": name, "url": reverse("storage-contract", kwargs={"name": name})}
            for name in storage_list(principal=principal).values_list("name", flat=True)
        ]
    return documents


def _page_context(request: Request) -> dict[str, Any]:
    documents = contracts(request)
    wanted = request.query_params.get("storage", "")
    primary = wanted if any(doc["name"] == wanted for doc in documents) else GLOBAL
    signed_in = getattr(request.user, "is_authenticated", False)
    return {
        "contracts": documents,
        "primary": primary,
        "user": request.user if signed_in else None,
        "login_url": f"/admin/login/?next={request.get_full_path()}",
    }


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI, its top bar selecting the document (Swagger UI's `urls`)."""

    authentication_classes = [AdminSessionAuthentication]
    template_name = "storage/swagger_ui.html"
    template_name_js = "storage/swagger_ui.js"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        page = _page_context(request)
        settings = {
            **spectacular_settings.SWAGGER_UI_SETTINGS,
            "urls": page["contracts"],
            "urls.primaryName": page["primary"],
            # Swagger UI's default asks validator.swagger.io for a badge: nothing external.
            "validatorUrl": None,
        }
        response.data.update(page, settings=json.dumps(settings))
        response["Content-Security-Policy"] = OFFLINE_POLICY
        return response


class RedocView(SpectacularRedocView):
    """ReDoc, with a selector of its own (ReDoc has none) and no web fonts."""

    authentication_classes = [AdminSessionAuthentication]
    template_name = "storage/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        settings = json.dumps(spectacular_settings.REDOC_UI_SETTINGS or {})
        response.data.update(_page_context(request), settings=settings)
        response["Content-Security-Policy"] = OFFLINE_POLICY
        return response
