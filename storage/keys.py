"""A record's key as one segment of its URL: which text keys can be one, and how to spell it.

A client resolves `.` and `..` segments before it sends a request (RFC 3986, 5.2.4; the
WHATWG URL standard also reads `%2e` as a dot), and a `/`, even encoded as `%2F`, is
decoded, refused or merged by servers and proxies on the way: a text key that is one of
those, or holds a `/`, has no URL that reaches its record for sure, and its `Location`
would point elsewhere (`../../auth/tokens`). Such keys are refused on create; every other
key is percent-encoded whole into the segment, so that `?`, `#`, `%` and spaces stay in it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

_DOT_SEGMENTS = frozenset({".", ".."})


def unaddressable(key: str) -> str:
    """The validation message for a key that `addressable` refuses."""
    return f"{key!r} cannot be a key: '.', '..' and keys holding '/' have no URL of their own."


def addressable(key: str) -> bool:
    """Whether a text key can be the one path segment of its record's URL."""
    return key not in _DOT_SEGMENTS and "/" not in key


def key_segment(key: Any) -> str:
    """The key as its URL's path segment: percent-encoded whole (UTF-8), '/' included."""
    return quote(str(key), safe="")
