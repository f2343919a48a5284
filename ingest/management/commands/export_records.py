"""Write every record of a storage to an NDJSON or CSV file, streamed."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict
from tqdm import tqdm

from core.errors import DomainError
from ingest.files import file_format
from storage import export
from storage.runtime import runtime_for
from storage.selectors import record_export


class Command(BaseCommand):
    help = "Export every record of STORAGE to FILE (.ndjson/.jsonl or .csv)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("storage")
        parser.add_argument("file", type=Path)

    def handle(self, *args, storage: str, file: Path, **options) -> None:
        try:
            runtime = runtime_for(storage)
            kind = file_format(file)
        except (DomainError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        rows, pairs = record_export(runtime=runtime, params=QueryDict())
        total = runtime.model.objects.count()
        with tqdm(total=total, unit=" rows", desc=storage, file=self.stderr) as bar:
            counted = (bar.update(1) or row for row in rows)
            if kind == "ndjson":
                with file.open("wb") as out:
                    for chunk in export.ndjson_lines(counted, pairs):
                        out.write(chunk)
            else:
                with file.open("w", newline="", encoding="utf-8") as out:
                    for chunk in export.csv_lines(counted, pairs, runtime.definition):
                        out.write(chunk)
        self.stdout.write(f"{total} records written to {file}")
