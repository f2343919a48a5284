"""The optional `source` block of a definition: which events feed a storage, and how.

    "source": {
      "match": {"all": [{"path": "/animal/species", "equals": "dog"},
                        {"path": "/animal/deleted", "exists": false}]},
      "map": {"name": "/animal/name", "age": "/animal/age_years"}
    }

Two optional parts say how matched events are written, and which events delete:

    "write": {"mode": "upsert", "on": ["tag"], "keep_newer": "seen_at"},
    "delete": {"match": {"path": "/op", "equals": "deleted"}, "key": "/animal/tag"}

`write.mode` is `insert` (the default: a duplicate rejects its event), `upsert` (merge the
fields an event sent into the record stored under the same `on` key: the primary key or
the fields of a unique index; `keep_newer`, a date, datetime, integer or decimal field,
skips events older than the stored record) or `ignore` (a stored record is left as it
is). An event that matches `delete.match` deletes the record whose primary key is at
`delete.key` instead of being written.

Paths are JSON Pointers (RFC 6901). This module validates and normalises the block; the
ingest app evaluates it. The rules on `on` and `keep_newer` are those of the records
API's upserts too (storage.upserts asks conflict_problems and newer_problem).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from factory.schema.blocks import is_block

SOURCE_KEYS = frozenset({"match", "map", "write", "delete"})
WRITE_KEYS = frozenset({"mode", "on", "keep_newer"})
WRITE_MODES = ("insert", "upsert", "ignore")
DELETE_KEYS = frozenset({"match", "key"})
# Types whose values tell a newer delivery from an older one (keep_newer).
NEWER_TYPES = ("date", "datetime", "integer", "decimal")
COMBINATORS = ("all", "any", "not")
COMPARISONS = ("equals", "in", "exists", "gt", "gte", "lt", "lte")
MAX_DEPTH = 16
MAX_CONDITIONS = 200
# RFC 6901: '~' is only ever the start of ~0 or ~1.
_BAD_ESCAPE = re.compile(r"~(?![01])")


class PointerError(ValueError):
    pass


def parse_pointer(pointer: Any) -> tuple[str, ...]:
    """RFC 6901: "" is the whole document; "/a/b~1c" is ("a", "b/c")."""
    if not isinstance(pointer, str):
        raise PointerError("must be a JSON Pointer string")
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise PointerError("a JSON Pointer starts with '/'")
    if _BAD_ESCAPE.search(pointer):
        raise PointerError("'~' must be escaped as ~0 ('~') or ~1 ('/')")
    tokens = pointer[1:].split("/")
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in tokens)


def normalize_source(
    source: Any, writable: set[str], add_error: Any, definition: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Validate a source block; report problems with add_error(path, message).
    `definition` (its key, fields and indexes normalised) is what `write` is checked
    against."""
    if source is None:
        return None
    if not is_block(source, SOURCE_KEYS, "source", "an object with 'match' and 'map'", add_error):
        return None
    if "match" not in source:
        add_error("source.match", "This field is required.")
    else:
        _check_match(source["match"], "source.match", 1, [0], add_error)
    if "map" not in source:
        add_error("source.map", "This field is required.")
    else:
        _check_map(source["map"], writable, add_error)
    normal = {"match": source.get("match"), "map": source.get("map")}
    if "write" in source:
        normal["write"] = _write(source["write"], definition or {}, add_error)
    if "delete" in source:
        normal["delete"] = _delete(source["delete"], add_error)
    return normal


def _write(write: Any, definition: dict[str, Any], add_error: Any) -> Any:
    shape = "an object with 'mode' (and 'on', 'keep_newer')"
    if not is_block(write, WRITE_KEYS, "source.write", shape, add_error):
        return write
    mode = write.get("mode", "insert")
    if mode not in WRITE_MODES:
        add_error("source.write.mode", f"must be one of: {', '.join(WRITE_MODES)}")
        return write
    if mode == "insert":
        for key in sorted({"on", "keep_newer"} & set(write)):
            add_error(f"source.write.{key}", "only with mode upsert or ignore")
        return {"mode": mode}
    on = write.get("on", [definition.get("primary_key", {}).get("name")])
    for message in conflict_problems(definition, on):
        add_error("source.write.on", message)
    normal = {"mode": mode, "on": on}
    if "keep_newer" in write:
        problem = newer_problem(definition, write["keep_newer"])
        if mode == "ignore":
            problem = "only with mode upsert: ignore never writes over a stored record"
        if problem:
            add_error("source.write.keep_newer", problem)
        normal["keep_newer"] = write["keep_newer"]
    return normal


def _delete(delete: Any, add_error: Any) -> Any:
    if not is_block(
        delete, DELETE_KEYS, "source.delete", "an object with 'match' and 'key'", add_error
    ):
        return delete
    if "match" not in delete:
        add_error("source.delete.match", "This field is required.")
    else:
        _check_match(delete["match"], "source.delete.match", 1, [0], add_error)
    try:
        parse_pointer(delete.get("key"))
    except PointerError as exc:
        add_error("source.delete.key", str(exc) if "key" in delete else "This field is required.")
    return {"match": delete.get("match"), "key": delete.get("key")}


def conflict_problems(definition: dict[str, Any], on: Any) -> list[str]:
    """Why `on` cannot name the records an upsert matches (nothing: it can): it must be the
    primary key (not a generated one) or the fields of a unique index, in any order."""
    primary_key = definition.get("primary_key", {})
    key = primary_key.get("name")
    if not isinstance(on, list) or not on or not all(isinstance(name, str) for name in on):
        return ["Name the primary key or the fields of a unique index."]
    known = {key, *(spec["name"] for spec in definition.get("fields", []))}
    unknown = [f"Unknown field {name!r}." for name in on if name not in known]
    if unknown:
        return unknown
    wanted = set(on)
    if wanted == {key} and len(on) == 1:
        if primary_key.get("type") == "serial":
            return [
                f"The key '{key}' is generated by the server: name the fields of a unique "
                "index to match records by."
            ]
        return []
    unique = [set(spec["fields"]) for spec in definition.get("indexes", []) if spec["unique"]]
    if len(wanted) == len(on) and wanted in unique:
        return []
    return [
        f"No unique index on ({', '.join(on)}): name the primary key or the fields of a "
        "unique index of this storage."
    ]


def newer_problem(definition: dict[str, Any], field: Any) -> str | None:
    """Why `field` cannot be keep_newer's (None: it can)."""
    types = {spec["name"]: spec["type"] for spec in definition.get("fields", [])}
    if not isinstance(field, str) or field not in types:
        return f"Unknown field {field!r}."
    if types[field] not in NEWER_TYPES:
        return (
            f"'{field}' is a {types[field]} field; keep_newer takes a field of type "
            f"{', '.join(NEWER_TYPES)}."
        )
    return None


def _check_map(mapping: Any, writable: set[str], add_error: Any) -> None:
    if not isinstance(mapping, dict) or not mapping:
        add_error("source.map", "must be a non-empty object of field -> JSON Pointer")
        return
    for field, pointer in mapping.items():
        path = f"source.map.{field}"
        if field not in writable:
            add_error(path, f"'{field}' is not a writable field of this storage")
        try:
            parse_pointer(pointer)
        except PointerError as exc:
            add_error(path, str(exc))


def _check_match(node: Any, path: str, depth: int, count: list[int], add_error: Any) -> None:
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_CONDITIONS:
        add_error(path, f"at most {MAX_DEPTH} levels and {MAX_CONDITIONS} conditions")
        return
    if not isinstance(node, dict):
        add_error(path, "must be a condition object")
        return
    combinators = [key for key in COMBINATORS if key in node]
    if combinators:
        _check_combinator(node, combinators, path, depth, count, add_error)
    else:
        _check_condition(node, path, add_error)


def _check_combinator(
    node: dict, keys: list[str], path: str, depth: int, count: list[int], add_error: Any
) -> None:
    if len(node) != 1:
        add_error(path, "a combinator ('all', 'any', 'not') stands alone in its object")
        return
    key = keys[0]
    if key == "not":
        _check_match(node["not"], f"{path}.not", depth + 1, count, add_error)
        return
    children = node[key]
    if not isinstance(children, list) or not children:
        add_error(f"{path}.{key}", "must be a non-empty list of conditions")
        return
    for index, child in enumerate(children):
        _check_match(child, f"{path}.{key}.{index}", depth + 1, count, add_error)


def _check_condition(node: dict, path: str, add_error: Any) -> None:
    for key in sorted(set(node) - {"path", *COMPARISONS}, key=str):
        add_error(f"{path}.{key}", "unknown key")
    try:
        parse_pointer(node.get("path"))
    except PointerError as exc:
        add_error(f"{path}.path", str(exc) if "path" in node else "This field is required.")
    operators = [key for key in COMPARISONS if key in node]
    if len(operators) != 1:
        add_error(path, f"needs exactly one of: {', '.join(COMPARISONS)}")
        return
    operator, operand = operators[0], node[operators[0]]
    if not _kept_exactly(operand):
        add_error(
            f"{path}.{operator}",
            "holds a number a definition would not keep exactly (more digits or range than"
            " a double has)",
        )
    elif operator == "exists" and not isinstance(operand, bool):
        add_error(f"{path}.exists", "must be true or false")
    elif operator == "in" and (not isinstance(operand, list) or not operand):
        add_error(f"{path}.in", "must be a non-empty list of values")
    elif operator in ("gt", "gte", "lt", "lte") and not _is_finite_number(operand):
        add_error(f"{path}.{operator}", "must be a number")


def _kept_exactly(value: Any) -> bool:
    """No number in `value` that storing the definition as JSON would change: the parser
    makes a Decimal of a number no double holds (core.json.loads). Integers of any size are
    kept (a definition is stored and read with Python's json, and events are parsed exactly
    too), unlike in a record's json value (factory.schema.fields.json_number_kept)."""
    if isinstance(value, list):
        return all(_kept_exactly(item) for item in value)
    if isinstance(value, dict):
        return all(_kept_exactly(item) for item in value.values())
    return not isinstance(value, Decimal)


def _is_finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, float) or math.isfinite(value)
