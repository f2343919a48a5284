"""JSON rendering with orjson; problem bodies keep their own content type."""

from typing import Any

from rest_framework import renderers

from core.json import dumps


class JSONRenderer(renderers.BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if data is None:
            return b""
        # The browsable API asks for an indented body (its renderer context's `indent`).
        return dumps(data, indent=bool((renderer_context or {}).get("indent")))


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API in our page (core/templates/core/api.html): links to the docs
    and the admin, and who is signed in (never the principal's repr)."""

    template = "core/api.html"
