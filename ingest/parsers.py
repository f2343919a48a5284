"""NDJSON request bodies, parsed lazily: one event in memory at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.errors import PayloadTooLarge
from core.json import loads


class NDJSONParser(parsers.BaseParser):
    media_type = "application/x-ndjson"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None):
        return iter_ndjson(stream)


def iter_ndjson(stream: Any) -> Iterator[Any]:
    """Yield one decoded event per non-blank line; refuse lines over MAX_EVENT_BYTES."""
    if stream is None:
        return
    limit = settings.MAX_EVENT_BYTES
    number = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            raise PayloadTooLarge(f"Line {number} is longer than {limit} bytes.")
        if not line.strip():
            continue
        try:
            yield loads(line)
        except ValueError as exc:
            raise ParseError(f"Line {number} is not valid JSON: {exc}") from exc
