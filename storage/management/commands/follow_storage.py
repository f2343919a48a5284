"""Keep a local copy of a storage: a snapshot of its list, then its change feed, for ever
(or until caught up, with --once), resumable from the cursor saved beside the copy.

    manage.py follow_storage dogs --out dogs.ndjson [--url http://127.0.0.1:8000] [--once]

It is a client of the HTTP API like any other (standard library only, no database): the
copy is FILE (one record per line, by key), the cursor FILE.cursor. Both are replaced
atomically after every page, the copy first: a crash between the two replays a page,
which changes nothing (the feed gives each record's state, not a diff).
"""

from __future__ import annotations

import datetime
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

TOKEN_FILE = Path("var/admin.token")


class Follower:
    def __init__(self, base: str, token: str, name: str, out: Path) -> None:
        self.api = f"{base.rstrip('/')}/api/v1"
        self.token = token
        self.name = name
        self.out = out
        self.cursor_file = out.with_name(out.name + ".cursor")
        self.records: dict[str, dict[str, Any]] = {}
        self.key = self.get(f"{self.api}/factory/storage/{name}/")["primary_key"]["name"]

    def get(self, url: str) -> Any:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def resume(self) -> str:
        """The cursor to follow from: the saved one, else a fresh snapshot's."""
        if self.cursor_file.exists() and self.out.exists():
            with self.out.open() as lines:
                for line in lines:
                    record = json.loads(line)
                    self.records[json.dumps(record[self.key])] = record
            return self.cursor_file.read_text().strip()
        return self.snapshot()

    def snapshot(self) -> str:
        """Every record, page by page; the feed's cursor from the first page."""
        self.records.clear()
        page = self.get(f"{self.api}/storage/{self.name}/?limit=1000")
        cursor = _after(page["changes"])
        while True:
            for record in page["results"]:
                self.records[json.dumps(record[self.key])] = record
            if not page["next"]:
                break
            page = self.get(page["next"])
        self.save(cursor)
        return cursor

    def follow(self, cursor: str, *, wait: int, once: bool) -> int:
        """Apply the feed from `cursor`; returns how many entries were applied."""
        applied = 0
        while True:
            query = urllib.parse.urlencode({"after": cursor, "limit": 1000, "wait": wait})
            try:
                page = self.get(f"{self.api}/storage/{self.name}/changes/?{query}")
            except urllib.error.HTTPError as error:
                if error.code == 410:  # tombstones past the cursor pruned: start again
                    cursor = self.snapshot()
                    continue
                if error.code == 503:
                    time.sleep(int(error.headers.get("Retry-After") or 1))
                    continue
                raise
            for entry in page["results"]:
                if "_removed" in entry:  # a retention run dropped partitions wholesale
                    self.forget_before(**entry["_removed"])
                    continue
                key = json.dumps(entry[self.key])
                entry.pop("_position")
                if entry.pop("_deleted", False):
                    self.records.pop(key, None)
                else:
                    self.records[key] = entry
            applied += len(page["results"])
            cursor = _after(page["next"])
            self.save(cursor)
            if once and not page["results"]:
                return applied

    def forget_before(self, field: str, before: str) -> None:
        """Drop the records whose `field` is before `before` (both ISO 8601)."""
        limit = _moment(before)
        self.records = {
            key: record
            for key, record in self.records.items()
            if record.get(field) is None or _moment(record[field]) >= limit
        }

    def save(self, cursor: str) -> None:
        _replace(self.out, "".join(json.dumps(r) + "\n" for r in self.records.values()))
        _replace(self.cursor_file, cursor + "\n")


def _moment(value: str) -> datetime.datetime:
    """A date or datetime field's value as an instant (a date: its midnight UTC)."""
    moment = datetime.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _after(url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["after"][0]


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class Command(BaseCommand):
    help = "Keep a local NDJSON copy of a storage by following its change feed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="The storage to follow.")
        parser.add_argument("--out", required=True, type=Path, help="The copy (NDJSON).")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The service.")
        parser.add_argument(
            "--token", default=os.environ.get("DATASTORAGE_TOKEN"),
            help="A token that may read the storage (default: $DATASTORAGE_TOKEN, else "
            "var/admin.token).",
        )  # fmt: skip
        parser.add_argument("--wait", type=int, default=30, help="Long-poll seconds.")
        parser.add_argument("--once", action="store_true", help="Stop once caught up.")

    def handle(self, *args, name: str, out: Path, url: str, token: str | None, **options) -> None:
        if not token:
            if not TOKEN_FILE.exists():
                raise CommandError("Give --token (or $DATASTORAGE_TOKEN).")
            token = TOKEN_FILE.read_text().strip()
        follower = Follower(url, token, name, out)
        cursor = follower.resume()
        wait = 0 if options["once"] else options["wait"]
        applied = follower.follow(cursor, wait=wait, once=options["once"])
        self.stdout.write(f"{len(follower.records)} records in {out} ({applied} changes applied)")
