"""Evaluate storages' `source` blocks against events: compiled once per storage version."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from factory.schema.source import parse_pointer

MISSING = object()
# RFC 6901 array indexes: ASCII digits, no leading zero (str.isdigit() also takes "²").
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
Predicate = Callable[[Any], bool]


def resolve(document: Any, tokens: tuple[str, ...]) -> Any:
    """The value a JSON Pointer names, or MISSING (never an exception)."""
    for token in tokens:
        if isinstance(document, dict):
            document = document.get(token, MISSING)
        elif isinstance(document, list) and _ARRAY_INDEX.fullmatch(token):
            index = int(token)
            document = document[index] if index < len(document) else MISSING
        else:
            return MISSING
        if document is MISSING:
            return MISSING
    return document


def _same(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, 1 is 1.0 -- at every depth (Python has [1] == [True]).
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    return a == b


def _number(value: Any) -> bool:
    # A Decimal is a number no double holds (core.json.loads); it compares exactly.
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda v, o: v > o,
    "gte": lambda v, o: v >= o,
    "lt": lambda v, o: v < o,
    "lte": lambda v, o: v <= o,
}


def compile_match(node: dict[str, Any]) -> Predicate:
    if "all" in node:
        parts = [compile_match(child) for child in node["all"]]
        return lambda event: all(part(event) for part in parts)
    if "any" in node:
        parts = [compile_match(child) for child in node["any"]]
        return lambda event: any(part(event) for part in parts)
    if "not" in node:
        inner = compile_match(node["not"])
        return lambda event: not inner(event)
    return _compile_condition(node)


def _compile_condition(node: dict[str, Any]) -> Predicate:
    tokens = parse_pointer(node["path"])
    if "exists" in node:
        wanted = node["exists"]
        return lambda event: (resolve(event, tokens) is not MISSING) == wanted
    if "equals" in node:
        operand = node["equals"]
        return lambda event: _same(resolve(event, tokens), operand)
    if "in" in node:
        options = node["in"]
        return lambda event: any(_same(resolve(event, tokens), o) for o in options)
    operator = next(key for key in _COMPARE if key in node)
    operand, compare = node[operator], _COMPARE[operator]

    def holds(event: Any) -> bool:
        value = resolve(event, tokens)
        return _number(value) and compare(value, operand)

    return holds


@dataclass(frozen=True)
class Route:
    """One storage's routing: does an event match, and what record does it project to."""

    storage_id: int
    name: str
    version: int
    matches: Predicate
    mapping: tuple[tuple[str, tuple[str, ...]], ...]
    # source.write in its normal form: {"mode": "insert"} unless the source says otherwise.
    write: dict[str, Any] = field(default_factory=lambda: {"mode": "insert"})
    # source.delete: which events delete a record, and where its key is in them.
    deletes: Predicate | None = None
    delete_key: tuple[str, ...] = ()

    def delete_of(self, event: Any) -> Any:
        """The key an event deletes (MISSING: none at its pointer), or None when the event
        is no delete event."""
        if self.deletes is None or not self.deletes(event):
            return None
        return resolve(event, self.delete_key)

    def project(self, event: Any) -> dict[str, Any]:
        """The record for an event; a missing path leaves the field out (its default applies)."""
        record = {}
        for name, tokens in self.mapping:
            value = resolve(event, tokens)
            if value is not MISSING:
                record[name] = value
        return record


def compile_route(*, storage_id: int, name: str, version: int, source: dict[str, Any]) -> Route:
    delete = source.get("delete")
    return Route(
        storage_id=storage_id,
        name=name,
        version=version,
        matches=compile_match(source["match"]),
        mapping=tuple((name, parse_pointer(path)) for name, path in source["map"].items()),
        write=source.get("write", {"mode": "insert"}),
        deletes=compile_match(delete["match"]) if delete else None,
        delete_key=parse_pointer(delete["key"]) if delete else (),
    )
