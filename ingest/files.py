"""Reading NDJSON and CSV files for the command-line import, event by event."""

from __future__ import annotations

import csv
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
    and JSON cells converted by the storage's field types."""
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                yield number, {k: _cell(v, types.get(k)) for k, v in row.items() if v != ""}
            except ValueError as exc:
                yield number, exc


def _cell(value: str, kind: str | None) -> Any:
    if kind == "integer":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ValueError(f"{value!r} is not true or false")
        return value.lower() == "true"
    if kind == "json":
        return loads(value)
    return value
