"""Strict JSON parsing with a hard cap on body size (also for bodies without a length)."""

from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError, UnsupportedMediaType

from core.errors import PayloadTooLarge
from core.json import loads

# A write without a body (DRF would hand it over as `{}`), or a body of only whitespace.
EMPTY_BODY = "The request body is empty; a JSON document was expected."


def check_charset(media_type: str | None) -> None:
    """Refuse a body declared in a charset other than UTF-8 (JSON's only encoding, RFC
    8259): read as UTF-8 it would mean something else. Raises UnsupportedMediaType."""
    _, _, params = (media_type or "").partition(";")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(media_type)


def read_limited(stream: Any) -> bytes:
    """Read a request body, refusing more than MAX_REQUEST_BYTES even when streamed."""
    if stream is None:
        return b""
    limit = settings.MAX_REQUEST_BYTES
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge.body(limit)
    return data


class JSONParser(parsers.BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        check_charset(media_type)
        data = read_limited(stream)
        if not data.strip():
            raise ParseError(EMPTY_BODY)
        try:
            return loads(data)
        except ValueError as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc
