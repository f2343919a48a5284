"""Streamed exports of a storage's records: NDJSON (one JSON object per line) or CSV.

CSV conventions (docs/api.md, "Export"; ingest.files reads them back, so an export
imports exactly):
- null is an empty cell, which spreadsheets show as blank and pandas reads as NaN; empty
  text is `""`, quoted: PostgreSQL's `COPY ... CSV` convention (and Python 3.12's
  QUOTE_NOTNULL). Python 3.11's csv writer cannot quote an empty string alone, so cells
  are quoted here, as RFC 4180 says (quotes around a cell holding `"`, `,`, CR or LF).
- a text cell (text fields, a text key, json fields as JSON text) that a spreadsheet would
  take for a formula, one starting with = + - @ TAB or CR, gets a leading `'` (OWASP's CSV
  injection advice); so does one that already starts with `'`s before such a character,
  so that removing one `'` on import is exact. Numbers, dates, datetimes, UUIDs and
  booleans are written as they are: the only such character they can start with is a
  negative number's minus sign, and -5 must stay a number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from core.json import dumps
from factory.schema.specs import StorageSpec
from factory.schema.types import FieldType
from storage.serializers import represent

FORMATS = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
_FLUSH_EVERY = 500

# A cell a spreadsheet would run, or one that reads as such once a leading ' is removed.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")
_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def ndjson_lines(rows: Iterable[Any], pairs: list) -> Iterator[bytes]:
    buffer: list[bytes] = []
    for row in rows:
        buffer.append(dumps(represent(row, pairs)) + b"\n")
        if len(buffer) >= _FLUSH_EVERY:
            yield b"".join(buffer)
            buffer.clear()
    if buffer:
        yield b"".join(buffer)


def csv_lines(rows: Iterable[Any], pairs: list, definition: dict[str, Any]) -> Iterator[str]:
    """A header row, then one row per record, cells as the module docstring says."""
    types = csv_types(definition)
    encoders = [
        _ENCODERS.get(types[name].csv_form if name in types else "plain", _plain_cell)
        for name, _ in pairs
    ]
    lines = [",".join(_quoted(name) for name, _ in pairs) + "\r\n"]
    for row in rows:
        values = represent(row, pairs).values()
        lines.append(
            ",".join(encode(v) for encode, v in zip(encoders, values, strict=True)) + "\r\n"
        )
        if len(lines) >= _FLUSH_EVERY:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def csv_types(definition: dict[str, Any]) -> dict[str, type[FieldType]]:
    """The value type of every field a CSV file of this storage holds, by name (the key's
    as its values' type; the system fields are not text, and are left out): its
    `csv_form` says how a cell holds it."""
    spec = StorageSpec.from_normal(definition)
    types = {field.name: field.type for field in spec.fields}
    types[spec.primary_key.name] = spec.primary_key.type.value_type
    return types


def neutralise(text: str) -> str:
    """A text cell as written: with a leading ' if a spreadsheet would take it for a formula."""
    return "'" + text if _FORMULA.match(text) else text


def unneutralise(cell: str) -> str:
    """The text a cell written by neutralise() holds."""
    return cell[1:] if _NEUTRALISED.match(cell) else cell


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if _NEEDS_QUOTES.search(text) else text


def _plain_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _quoted(str(value))


def _text_cell(value: str | None) -> str:
    if value is None:
        return ""
    return _quoted(neutralise(value)) if value else '""'


def _json_cell(value: Any) -> str:
    # Always JSON text, strings too: "5" and 5 must stay apart when the file is read back.
    return "" if value is None else _quoted(neutralise(dumps(value).decode()))


# By csv_form (factory.schema.types.base.FieldType); "plain" cells are _plain_cell's.
_ENCODERS: dict[str, Callable[[Any], str]] = {"text": _text_cell, "json": _json_cell}
