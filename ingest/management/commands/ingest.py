"""Route an NDJSON file of events into every storage whose source matches, as the API does."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from access.authentication import Principal
from core.errors import DomainError
from ingest.files import read_lines
from ingest.services import ingest_events


class Command(BaseCommand):
    help = "Ingest events from an NDJSON FILE into the storages whose source matches them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--rejects",
            type=Path,
            help="Where rejected events are written (default: FILE.rejects.ndjson).",
        )

    def handle(self, *args, file: Path, rejects: Path | None, **options) -> None:
        rejects = rejects or file.with_name(file.name + ".rejects.ndjson")
        # The shell is trusted like an admin token: no grant checks.
        shell = Principal(token_id=0, name="shell", admin=True)
        with tqdm(unit=" events", desc="ingest", file=self.stderr) as bar:
            events = (
                bar.update(1) or event
                for _, event in read_lines(file)
                if not isinstance(event, Exception)
            )
            try:
                report = ingest_events(principal=shell, events=events)
            except DomainError as exc:
                raise CommandError(exc.detail) from exc
        with rejects.open("w") as out:
            for name, batch in sorted(report.batches.items()):
                for item in batch.rejected:
                    out.write(json.dumps({"storage": name, **item}) + "\n")
        summary = report.as_dict()
        for name, result in summary["storages"].items():
            self.stdout.write(
                f"{name}: {result['written']} written, {len(result['rejected'])} rejected"
            )
        self.stdout.write(
            f"{summary['events']} events, {summary['unmatched']} matched no "
            f"storage (rejections in {rejects})"
        )
