"""Strict JSON parsing with a hard cap on body size (also for bodies without a length)."""

from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.errors import PayloadTooLarge
from core.json import loads


def read_limited(stream: Any) -> bytes:
    """Read a request body, refusing more than MAX_REQUEST_BYTES even when streamed."""
    if stream is None:
        return b""
    limit = settings.MAX_REQUEST_BYTES
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
    return data


class JSONParser(parsers.BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = read_limited(stream)
        if not data.strip():
            raise ParseError("The request body is empty; a JSON document was expected.")
        try:
            return loads(data)
        except ValueError as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc
