"""The optional `retention` block of a definition: how long records are kept.

    "retention": {"field": "recorded_at", "keep": "P90D"}

`field` is a date or datetime field of the storage (or `_created_at`, `_updated_at`);
`keep` an ISO 8601 duration of fixed length: weeks (`P2W`), or days and a time part
(`P90D`, `PT12H`, `P1DT6H30M`, `PT90S`). Months and years are refused: their length
depends on the calendar, and a retention rule should remove the same span every run.

A record expires when its field is before `now - keep` (a date field: when its whole day
is, so a date is kept through the day the rule reaches it); a record whose field is null
never expires. The worker removes expired records (factory.services.retention); the
block changes what the worker does, never the table, so a change of it needs no DDL.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from factory.schema.blocks import is_block
from factory.schema.specs import SYSTEM_FIELDS

RETENTION_KEYS = frozenset({"field", "keep"})
RETENTION_TYPES = ("date", "datetime")
# P[n]W, or P[n]D[T[n]H[n]M[n]S]; months (P1M) and years (P1Y) are refused apart.
_WEEKS = re.compile(r"P(?P<weeks>\d{1,6})W")
_DAYS_TIME = re.compile(
    r"P(?:(?P<days>\d{1,6})D)?(?:T(?:(?P<hours>\d{1,7})H)?(?:(?P<minutes>\d{1,9})M)?"
    r"(?:(?P<seconds>\d{1,11})S)?)?"
)
_CALENDAR = re.compile(r"P[^T]*\d[YM]")
# Long enough for any use, short enough that now - keep stays a date (year 1 is the floor).
MAX_KEEP = timedelta(days=100 * 366)


def parse_keep(keep: Any) -> timedelta:
    """The duration `keep` names. Raises ValueError, saying why, for anything else."""
    if not isinstance(keep, str):
        raise ValueError("must be an ISO 8601 duration string such as 'P90D' or 'PT12H'")
    weeks = _WEEKS.fullmatch(keep)
    if weeks:
        span = timedelta(weeks=int(weeks["weeks"]))
    else:
        parts = _DAYS_TIME.fullmatch(keep)
        if parts is None or keep.endswith("T") or not any(parts.groupdict().values()):
            raise ValueError(_keep_problem(keep))
        span = timedelta(**{unit: int(n) for unit, n in parts.groupdict().items() if n})
    if span <= timedelta(0):
        raise ValueError("must be longer than zero")
    if span > MAX_KEEP:
        raise ValueError("must be at most 100 years (P36600D)")
    return span


def _keep_problem(keep: str) -> str:
    if _CALENDAR.match(keep):
        return (
            f"{keep!r} counts months or years, whose length depends on the calendar; "
            "give days or weeks instead (P90D, P13W)"
        )
    return (
        f"{keep!r} is not an ISO 8601 duration of weeks (P2W) or of days and hours, "
        "minutes, seconds (P90D, PT12H, P1DT6H)"
    )


def normalize_retention(
    retention: Any, definition: dict[str, Any], add_error: Any
) -> dict[str, Any] | None:
    """Validate a retention block against the normalised `definition`; report problems with
    add_error(path, message); return its normal form (None: no retention)."""
    if retention is None:
        return None
    shape = "an object with 'field' and 'keep'"
    if not is_block(retention, RETENTION_KEYS, "retention", shape, add_error):
        return None
    _check_field(retention, definition, add_error)
    if "keep" not in retention:
        add_error("retention.keep", "This field is required.")
    else:
        try:
            parse_keep(retention["keep"])
        except ValueError as exc:
            add_error("retention.keep", str(exc))
    return {"field": retention.get("field"), "keep": retention.get("keep")}


def _check_field(retention: dict[str, Any], definition: dict[str, Any], add_error: Any) -> None:
    if "field" not in retention:
        add_error("retention.field", "This field is required.")
        return
    field = retention["field"]
    types = {spec["name"]: spec["type"] for spec in definition.get("fields", [])}
    types |= SYSTEM_FIELDS
    if not isinstance(field, str) or field not in types:
        add_error("retention.field", f"Unknown field {field!r}.")
    elif types[field] not in RETENTION_TYPES:
        add_error(
            "retention.field",
            f"'{field}' is of type {types[field]}; retention takes a "
            f"{' or '.join(RETENTION_TYPES)} field.",
        )
