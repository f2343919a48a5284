"""Upserts: insert a record, or merge it into the one stored under the same unique key.

`upsert_target` checks what a request (or a storage's ingest `source.write`) asks for: the
conflict fields (the primary key or the fields of a unique index), merge or ignore, and
`keep_newer` (a date, datetime, integer or decimal field: an item older than the stored
record is stale, never written). `record_upsert` validates every item as a create (an
item may be inserted), then writes them all or nothing, and says what happened to each:
created, updated, unchanged (its sent values were stored already: the row is untouched,
`_version` and `_updated_at` included), skipped (ignore-duplicates met a stored record)
or stale. A merge changes only the fields an item sent.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from core import metrics
from core.collector import collector_paused
from core.errors import PayloadTooLarge, ValidationFailed
from factory.schema.source import NEWER_TYPES, conflict_problems, newer_problem
from storage.runtime import RecordRuntime
from storage.services import unique_violation
from storage.sql.upsert import CREATED, Round, Target, upsert_round

MERGE, IGNORE = "merge-duplicates", "ignore-duplicates"
RESOLUTIONS = (MERGE, IGNORE)
__all__ = ["NEWER_TYPES", "RESOLUTIONS", "record_upsert", "upsert_target"]
OPERATIONS = ("created", "updated", "unchanged", "skipped", "stale")
_DEADLOCK = "40P01"
_ATTEMPTS = 3


@dataclass(frozen=True)
class Upserted:
    """What happened to one item (`operation`, one of OPERATIONS) and the record stored."""

    operation: str
    record: Any


def upsert_target(
    runtime: RecordRuntime,
    *,
    resolution: str,
    on: list[str] | None,
    keep_newer: str | None,
    names: tuple[str, str] = ("on_conflict", "keep_newer"),
) -> Target:
    """The conflict target of an upsert. Raises ValidationFailed naming the parameter
    (`names`: how the caller spells on_conflict and keep_newer) that does not fit."""
    errors: dict[str, list[str]] = {}
    conflict = _conflict(runtime, on, errors, names[0])
    if keep_newer is not None:
        _check_newer(runtime, keep_newer, errors, names[1])
        if resolution == IGNORE:
            errors.setdefault(names[1], []).append(
                "Only with resolution=merge-duplicates: ignore-duplicates never writes over "
                "a stored record."
            )
    if errors:
        raise ValidationFailed(errors)
    return Target(conflict=conflict, merge=resolution == MERGE, keep_newer=keep_newer)


def _conflict(runtime: RecordRuntime, on: list[str] | None, errors: dict, name: str) -> tuple:
    wanted = [runtime.key_name] if on is None else on
    problems = conflict_problems(runtime.definition, wanted)
    if problems:
        errors[name] = problems
        return ()
    return tuple(wanted)


def _check_newer(runtime: RecordRuntime, field: str, errors: dict, name: str) -> None:
    problem = newer_problem(runtime.definition, field)
    if problem:
        errors[name] = [problem]


def record_upsert(
    *,
    runtime: RecordRuntime,
    items: list[Any],
    target: Target,
    now: datetime.datetime | None = None,
) -> list[Upserted]:
    """Insert or merge `items`, all or nothing, in order. Raises PayloadTooLarge,
    ValidationFailed (keyed `<item>.<field>`, every invalid item at once; `on_conflict` and
    `keep_newer` fields must be sent, with a value) and UniqueViolation (another unique
    index; `item` names the first offending one when it can be told)."""
    if len(items) > settings.MAX_BULK_ITEMS:
        raise PayloadTooLarge(
            f"A bulk upsert takes at most {settings.MAX_BULK_ITEMS} items; got {len(items)}."
        )
    with collector_paused():
        rows, sent = _validated(runtime, items, target)
        results = upsert_rows(runtime=runtime, rows=rows, sent=sent, target=target, now=now)
    written = sum(1 for result in results if result.operation in ("created", "updated"))
    metrics.records_written(runtime.name, "upsert", written)
    return results


def upsert_rows(
    *,
    runtime: RecordRuntime,
    rows: list[dict[str, Any]],
    sent: list[tuple[str, ...]],
    target: Target,
    now: datetime.datetime | None = None,
) -> list[Upserted]:
    """Write validated rows (`sent`: the fields each item sent, which a merge changes),
    all or nothing. Raises UniqueViolation."""
    now = now or timezone.now()
    runtime.copy_insert.fill_defaults(rows)
    rounds = _rounds(rows, sent, target.conflict)
    for attempt in range(1, _ATTEMPTS + 1):
        results: list[Upserted | None] = [None] * len(rows)
        try:
            with transaction.atomic():
                for round_ in rounds:
                    for position, operation, record in upsert_round(runtime, target, round_, now):
                        results[position] = Upserted(operation, record)
        except IntegrityError as exc:
            raise unique_violation(runtime, exc, rows) from exc
        except OperationalError as exc:
            # Each round takes its row locks in key order, but a bulk that repeats a key
            # has several rounds: two such bulks can still deadlock. The savepoint undid
            # the loser's rounds (and released their locks): it runs again.
            if getattr(exc.__cause__, "sqlstate", None) != _DEADLOCK or attempt == _ATTEMPTS:
                raise
            continue
        return results  # type: ignore[return-value]
    raise AssertionError("unreachable")


def _validated(
    runtime: RecordRuntime, items: list[Any], target: Target
) -> tuple[list[dict[str, Any]], list[tuple[str, ...]]]:
    rows, sent, errors = [], [], {}
    for position, item in enumerate(items):
        try:
            values, fields = validated_item(runtime, item, target)
        except ValidationFailed as exc:
            errors.update({f"{position}.{path}": msgs for path, msgs in exc.errors.items()})
            continue
        rows.append(values)
        sent.append(fields)
    if errors:
        raise ValidationFailed(errors, "Some items are invalid; nothing was written.")
    return rows, sent


def validated_item(
    runtime: RecordRuntime, item: Any, target: Target
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """An item's values (validated as a create) and the fields it sent, which a merge
    changes. Raises ValidationFailed (the conflict and keep_newer fields must be sent, with
    a value)."""
    values = runtime.validator.for_create(item)
    needed = (*target.conflict, *((target.keep_newer,) if target.keep_newer else ()))
    missing = {name: ["An upsert needs this field, with a value."] for name in needed}
    missing = {name: problem for name, problem in missing.items() if item.get(name) is None}
    if missing:
        raise ValidationFailed(missing)
    return values, tuple(name for name in item if name in runtime.validator.specs)


def _rounds(
    rows: list[dict[str, Any]], sent: list[tuple[str, ...]], conflict: tuple[str, ...]
) -> list[Round]:
    """The items in rounds one statement each can write: the n-th item of a key in round
    n (so that a later delivery of a key is written after an earlier one), split by the
    fields they sent."""
    seen: dict[tuple, int] = defaultdict(int)
    rounds: dict[tuple[int, tuple[str, ...]], Round] = {}
    for position, (row, fields) in enumerate(zip(rows, sent, strict=True)):
        key = tuple(row[name] for name in conflict)
        occurrence = seen[key]
        seen[key] += 1
        shape = (occurrence, tuple(sorted(fields)))
        round_ = rounds.get(shape)
        if round_ is None:
            round_ = Round(rows=[], positions=[], sent=shape[1], repeat=occurrence > 0)
            rounds[shape] = round_
        round_.rows.append(row)
        round_.positions.append(position)
    return [rounds[shape] for shape in sorted(rounds, key=lambda shape: shape[0])]


def all_created(results: list[Upserted]) -> bool:
    return all(result.operation == CREATED for result in results)


def preferred_resolution(prefer: str | None) -> str | None:
    """The `resolution` a Prefer header asks for (RFC 7240; PostgREST's words), or None.
    Other preferences are ignored, as the RFC says; an unknown resolution is refused
    rather than ignored, since ignoring it would insert duplicates."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() != "resolution":
            continue
        value = value.strip().strip('"')
        if value not in RESOLUTIONS:
            raise ValidationFailed(
                {"Prefer": [f"resolution is one of: {', '.join(RESOLUTIONS)}; got {value!r}."]}
            )
        return value
    return None


def upsert_parameters(query: Any, resolution: str | None) -> tuple[list[str] | None, str | None]:
    """`on_conflict` (comma-separated fields) and `keep_newer` of a create's query. Raises
    ValidationFailed when they come without a resolution to apply them to."""
    raw_on, keep_newer = query.get("on_conflict"), query.get("keep_newer")
    if resolution is None:
        stray = [name for name in ("on_conflict", "keep_newer") if name in query]
        if stray:
            raise ValidationFailed(
                {
                    name: ["Only with Prefer: resolution=merge-duplicates or ignore-duplicates."]
                    for name in stray
                }
            )
        return None, None
    on = None if raw_on is None else [name.strip() for name in raw_on.split(",")]
    return on, keep_newer
