"""Reading NDJSON and CSV files for the command-line import, event by event."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.json import loads
from factory.schema.types import FieldType
from storage.export import csv_types, unneutralise


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"{path.name}: use a .ndjson, .jsonl or .csv file")


def read_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, decoded object) per non-blank NDJSON line; bad JSON yields the error."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, loads(line)
            except ValueError as exc:
                yield number, exc


def read_csv(path: Path, definition: dict[str, Any]) -> Iterator[tuple[int, Any]]:
    """CSV rows as records, read as storage.export writes them: an empty cell is null where
    the field is nullable and left out otherwise (so a default applies); `""` is empty text
    in a text field; a text or JSON cell loses the ' that neutralised a formula; numbers,
    booleans and JSON cells are converted by the storage's field types (their `from_csv`
    and `csv_form`, factory.schema.types). A row's number is
    the line it starts on in the file (quoted newlines and blank lines counted); a row
    whose cell count differs from the header's yields a ValueError."""
    columns = _columns(definition)
    with path.open(newline="", encoding="utf-8") as handle:
        record: list[str] = []  # the raw lines of the row being read
        reader = csv.reader(_recorded(handle, record))
        header = next(reader, None)
        while header is not None:
            number = reader.line_num + 1
            record.clear()
            row = next(reader, None)
            if row is None:
                return
            if row:  # a blank line reads as []
                yield number, _record(header, row, columns, "".join(record))


def _recorded(lines: Iterable[str], record: list[str]) -> Iterator[str]:
    # csv.reader takes lines one at a time as it needs them, so `record` holds a row's.
    for line in lines:
        record.append(line)
        yield line


_Columns = dict[str, tuple[type[FieldType] | None, bool]]


def _columns(definition: dict[str, Any]) -> _Columns:
    """(value type, nullable) by field name; the key is not nullable."""
    nullable = {spec["name"]: spec["nullable"] for spec in definition["fields"]}
    return {name: (kind, nullable.get(name, False)) for name, kind in csv_types(definition).items()}


def _record(header: list[str], row: list[str], columns: _Columns, raw: str) -> Any:
    if len(row) != len(header):
        return ValueError(f"{len(row)} cells, the header has {len(header)}")
    quoted = _quoted_empty(raw) if "" in row else set()
    record = {}
    try:
        for position, (name, value) in enumerate(zip(header, row, strict=True)):
            kind, nullable = columns.get(name, (None, False))
            empty_text = kind is not None and kind.csv_form == "text" and position in quoted
            if value == "" and not empty_text:
                if nullable:
                    record[name] = None
                continue
            record[name] = _cell(value, kind)
    except ValueError as exc:
        return exc
    return record


# One cell of a raw CSV row as Python's csv module (default dialect) reads it: quoted, with
# anything up to the next comma after the closing quote, or not quoted.
_RAW_CELL = re.compile(r'"(?:[^"]|"")*"[^,\r\n]*|[^,\r\n]*')


def _quoted_empty(raw: str) -> set[int]:
    """The positions of the cells written `""` (empty text, not null) in one raw row."""
    positions, position, at = set(), 0, 0
    while True:
        cell = _RAW_CELL.match(raw, at)
        if cell.group() == '""':
            positions.add(position)
        at = cell.end() + 1
        if raw[cell.end() : at] != ",":
            return positions
        position += 1


def _cell(value: str, kind: type[FieldType] | None) -> Any:
    if kind is None:  # not a field: the validator words the error
        return value
    if kind.csv_form != "plain":  # text, as export.neutralise wrote it
        value = unneutralise(value)
    return kind.from_csv(value)
