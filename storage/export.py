"""Streamed exports of a storage's records: NDJSON (one JSON object per line) or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from core.json import dumps
from storage.serializers import represent

FORMATS = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
_FLUSH_EVERY = 500


def ndjson_lines(rows: Iterable[Any], pairs: list) -> Iterator[bytes]:
    buffer: list[bytes] = []
    for row in rows:
        buffer.append(dumps(represent(row, pairs)) + b"\n")
        if len(buffer) >= _FLUSH_EVERY:
            yield b"".join(buffer)
            buffer.clear()
    if buffer:
        yield b"".join(buffer)


def csv_lines(rows: Iterable[Any], pairs: list) -> Iterator[str]:
    """A header row, then one row per record; JSON values as JSON text, null as empty."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(name for name, _ in pairs)
    for count, row in enumerate(rows, start=1):
        writer.writerow(_cell(value) for value in represent(row, pairs).values())
        if count % _FLUSH_EVERY == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
