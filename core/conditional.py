"""ETags and If-Match: every ETag in the API is a quoted integer version.

If-Match accepts `"N"`, `N`, `W/"N"`, `*` and comma-separated lists of those.
"""

from __future__ import annotations

import re

from core.errors import PreconditionFailed, PreconditionRequired, ValidationFailed

# ASCII digits only (`\d` would take any script's digits), at most 2^63-1: a version is a
# bigint, and a larger number in a query overflows it (SQLite refuses it outright).
_TAG_RE = re.compile(r'(?:W/)?(?:"([0-9]{1,19})"|([0-9]{1,19}))')
MAX_VERSION = 2**63 - 1
ANY = -1


def etag(version: int) -> str:
    return f'"{version}"'


def parse_tags(header: str | None, *, header_name: str = "If-Match") -> set[int] | None:
    """The versions named by a conditional header, {ANY} for `*`, None when absent."""
    if header is None:
        return None
    tags: set[int] = set()
    for part in (p.strip() for p in header.split(",")):
        if part == "*":
            tags.add(ANY)
            continue
        match = _TAG_RE.fullmatch(part)
        if not match or int(match.group(1) or match.group(2)) > MAX_VERSION:
            raise ValidationFailed(
                {header_name: [f'{part!r} is not a version tag; send the ETag, e.g. "3".']},
                f"The {header_name} header is malformed.",
            )
        tags.add(int(match.group(1) or match.group(2)))
    return tags


def check_if_match(tags: set[int] | None, current: int, *, required: bool = True) -> None:
    """Raise PreconditionRequired (no header) or PreconditionFailed (stale version)."""
    if tags is None:
        if required:
            raise PreconditionRequired("Send If-Match with the version you last read (its ETag).")
        return
    if ANY not in tags and current not in tags:
        raise PreconditionFailed(
            f"The resource is at version {current}; re-read it and retry.",
            current_version=current,
        )
