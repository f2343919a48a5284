"""Load an NDJSON or CSV file into a storage, validated like the API, in bulk batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.errors import DomainError, ValidationFailed
from ingest.files import file_format, read_csv, read_lines
from storage.runtime import runtime_for
from storage.services import record_bulk_create

BATCH = 5000


class Command(BaseCommand):
    help = (
        "Import records from FILE (.ndjson/.jsonl or .csv) into STORAGE. System fields (and a "
        "serial key) are ignored, so a file from export_records imports as it is."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("storage")
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--rejects",
            type=Path,
            help="Where rejected lines are written (default: FILE.rejects.ndjson).",
        )

    def handle(self, *args, storage: str, file: Path, rejects: Path | None, **options) -> None:
        try:
            runtime = runtime_for(storage)
            kind = file_format(file)
        except (DomainError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        rejects = rejects or file.with_name(file.name + ".rejects.ndjson")
        lines = read_lines(file) if kind == "ndjson" else read_csv(file, runtime.definition)
        # A file from export_records carries what the server sets: the system fields, and
        # for a serial key the key itself. They are dropped, so exports import as they are.
        dropped = {"_version", "_created_at", "_updated_at"}
        if runtime.definition["primary_key"]["type"] == "serial":
            dropped.add(runtime.key_name)
        lines = ((number, _without(item, dropped)) for number, item in lines)
        written, rejected = 0, 0
        with rejects.open("w") as out, tqdm(unit=" rows", desc=storage, file=self.stderr) as bar:
            batch: list[tuple[int, Any]] = []
            for number, item in lines:
                batch.append((number, item))
                if len(batch) >= BATCH:
                    w, r = _flush(runtime, batch, out)
                    written, rejected = written + w, rejected + r
                    bar.update(len(batch))
                    batch = []
            w, r = _flush(runtime, batch, out)
            written, rejected = written + w, rejected + r
            bar.update(len(batch))
        self.stdout.write(f"{written} written, {rejected} rejected (see {rejects})")


def _without(item: Any, dropped: set[str]) -> Any:
    if isinstance(item, dict):
        return {key: value for key, value in item.items() if key not in dropped}
    return item


def _flush(runtime: Any, batch: list[tuple[int, Any]], out: Any) -> tuple[int, int]:
    """Write the valid items of a batch; report the others with their line numbers."""
    bad = [
        (n, {"line": ["not valid: " + str(item)]})
        for n, item in batch
        if isinstance(item, Exception)
    ]
    good = [(n, item) for n, item in batch if not isinstance(item, Exception)]
    while good:
        try:
            record_bulk_create(runtime=runtime, items=[item for _, item in good])
            break
        except ValidationFailed as exc:
            failing = {int(path.split(".", 1)[0]) for path in exc.errors}
            bad += [(good[i][0], _errors_of(exc, i)) for i in sorted(failing)]
            good = [pair for i, pair in enumerate(good) if i not in failing]
        except DomainError as exc:
            bad += [(n, {"batch": [exc.detail]}) for n, _ in good]
            good = []
    for number, errors in sorted(bad, key=lambda pair: pair[0]):
        out.write(json.dumps({"line": number, "errors": errors}) + "\n")
    return len(good), len(bad)


def _errors_of(exc: ValidationFailed, index: int) -> dict[str, list[str]]:
    prefix = f"{index}."
    return {
        path[len(prefix) :]: msgs for path, msgs in exc.errors.items() if path.startswith(prefix)
    }
