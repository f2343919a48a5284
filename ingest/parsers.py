"""NDJSON request bodies, parsed lazily: one event in memory at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.errors import PayloadTooLarge
from core.json import loads
from core.parsers import check_charset

# Read in blocks and split lines here: a server's wsgi.input.readline() may be slow
# (gunicorn's read 1 KiB at a time: ~1 ms per 20 KB line, twenty times its read()).
READ_BLOCK = 64 * 1024


class NDJSONParser(parsers.BaseParser):
    media_type = "application/x-ndjson"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None):
        check_charset(media_type)
        return iter_ndjson(stream)


def iter_ndjson(stream: Any) -> Iterator[Any]:
    """Yield one decoded event per non-blank line; refuse lines over MAX_EVENT_BYTES."""
    if stream is None:
        return
    for number, line in _lines(stream, settings.MAX_EVENT_BYTES):
        if not line.strip():
            continue
        try:
            yield loads(line)
        except ValueError as exc:
            raise ParseError(f"Line {number} is not valid JSON: {exc}") from exc


def _lines(stream: Any, limit: int) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its newline); at most one block and one line held.
    The body's total is core.middleware's to bound (MAX_INGEST_BYTES): an announced size
    before anything is read, a chunked body as it arrives (core.slow_clients.CappedInput)."""
    number, partial = 0, bytearray()
    while block := stream.read(READ_BLOCK):
        start = 0
        while (end := block.find(b"\n", start)) >= 0:
            number += 1
            line = bytes(partial + block[start:end]) if partial else block[start:end]
            partial.clear()
            _check_length(line, number, limit)
            yield number, line
            start = end + 1
        partial += block[start:]
        _check_length(partial, number + 1, limit)
    if partial:
        yield number + 1, bytes(partial)


def _check_length(line: bytes | bytearray, number: int, limit: int) -> None:
    if len(line) > limit:
        raise PayloadTooLarge(f"Line {number} is longer than {limit} bytes.")
