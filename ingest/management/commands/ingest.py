"""Route an NDJSON file of events into every storage whose source matches, as the API does.

The file is read in slices of MAX_INGEST_EVENTS lines, each ingested like one API request
(so each storage's batch is all or nothing per slice), one event in memory at a time.
Rejections name the file's line: unreadable lines, and events a storage refused.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from access.authentication import Principal
from core.errors import DomainError
from ingest.files import read_lines
from ingest.services import IngestReport, ingest_events

# The shell is trusted like an admin token: no grant checks.
SHELL = Principal(token_id=0, name="shell", admin=True)


@dataclass
class Totals:
    events: int = 0
    unmatched: int = 0
    unreadable: int = 0
    storages: dict[str, list[int]] = field(default_factory=dict)  # name -> [written, rejected]

    def add(self, report: IngestReport, numbers: list[int], out: Any) -> None:
        """Count one slice's report; write its rejections with their line numbers."""
        self.events += report.events
        self.unmatched += report.unmatched
        for name, batch in sorted(report.batches.items()):
            counts = self.storages.setdefault(name, [0, 0])
            counts[0] += batch.written
            counts[1] += len(batch.rejected)
            for item in batch.rejected:
                line = numbers[item["event"]]
                out.write(json.dumps({"storage": name, "line": line, "errors": item["errors"]}))
                out.write("\n")


class Command(BaseCommand):
    help = "Ingest events from an NDJSON FILE into the storages whose source matches them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--rejects",
            type=Path,
            help="Where rejected lines and events are written (default: FILE.rejects.ndjson).",
        )

    def handle(self, *args, file: Path, rejects: Path | None, **options) -> None:
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        rejects = rejects or file.with_name(file.name + ".rejects.ndjson")
        totals = Totals()
        lines = read_lines(file)
        with rejects.open("w") as out, tqdm(unit=" events", desc="ingest", file=self.stderr) as bar:
            while _ingest_slice(lines, totals, out, bar):
                pass
        for name, (written, rejected) in sorted(totals.storages.items()):
            self.stdout.write(f"{name}: {written} written, {rejected} rejected")
        plural = "" if totals.unreadable == 1 else "s"
        self.stdout.write(
            f"{totals.events} events, {totals.unmatched} matched no storage, "
            f"{totals.unreadable} unreadable line{plural} (rejections in {rejects})"
        )


def _ingest_slice(lines: Iterator[tuple[int, Any]], totals: Totals, out: Any, bar: Any) -> bool:
    """Ingest the next MAX_INGEST_EVENTS lines; False once the file is read to its end."""
    limit = settings.MAX_INGEST_EVENTS
    numbers: list[int] = []  # the line of each event of the slice, by position
    consumed = 0

    def events() -> Iterator[Any]:
        nonlocal consumed
        for number, event in itertools.islice(lines, limit):
            consumed += 1
            if isinstance(event, Exception):
                totals.unreadable += 1
                out.write(json.dumps({"line": number, "errors": {"line": [f"not valid: {event}"]}}))
                out.write("\n")
                continue
            numbers.append(number)
            bar.update(1)
            yield event

    try:
        report = ingest_events(principal=SHELL, events=events())
    except DomainError as exc:
        raise CommandError(exc.detail) from exc
    totals.add(report, numbers, out)
    return consumed == limit
