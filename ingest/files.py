"""Reading NDJSON and CSV files for the command-line import, event by event."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.json import loads


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


def read_csv(path: Path, types: dict[str, str]) -> Iterator[tuple[int, Any]]:
    """CSV rows as records: empty cells are left out (so defaults apply), numbers, booleans
    and JSON cells converted by the storage's field types. A row's number is the line it
    starts on in the file (quoted newlines and blank lines counted); a row whose cell count
    differs from the header's yields a ValueError."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        while header is not None:
            number = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                return
            if row:  # a blank line reads as []
                yield number, _record(header, row, types)


def _record(header: list[str], row: list[str], types: dict[str, str]) -> Any:
    if len(row) != len(header):
        return ValueError(f"{len(row)} cells, the header has {len(header)}")
    try:
        return {k: _cell(v, types.get(k)) for k, v in zip(header, row, strict=True) if v != ""}
    except ValueError as exc:
        return exc


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _cell(value: str, kind: str | None) -> Any:
    if kind == "integer":
        if not _INTEGER.fullmatch(value):
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    if kind == "float":
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ValueError(f"{value!r} is not true or false")
        return value.lower() == "true"
    if kind == "json":
        try:
            return loads(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not JSON ({exc})") from None
    return value
