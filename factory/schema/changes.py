"""Compare two normalised definitions: what changed, and whether it is backward compatible.

Only expanding changes are allowed, so that a model class one version behind stays valid
for the requests it is still serving: add a field that is nullable or has a default, add
or drop an index, change the description, a default, the source or the retention, relax a
constraint.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# Changes that alter the table; the others only change what the API accepts.
DDL_OPS = frozenset({"add_field", "add_index", "drop_index", "relax_field"})
# Blocks of a definition that lay the table out, fixed at creation: PostgreSQL cannot turn
# a table into a partitioned one (or back) in place, nor change its partition key, and a
# distributed table's shards are placed by its distribution (that the partition field
# stays required and not nullable is normalize_partition's rule).
CREATION_ONLY = {"partition": "partitioning", "distribution": "distribution"}
# Relaxations that need DDL (the others are enforced by the API only).
_DDL_RELAXATIONS = frozenset({"nullable", "max_length", "min", "max", "choices"})


class Diff:
    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []
        self.incompatible: dict[str, list[str]] = {}

    def refuse(self, path: str, message: str) -> None:
        self.incompatible.setdefault(path, []).append(message)

    @property
    def needs_ddl(self) -> bool:
        return any(_needs_ddl(change) for change in self.changes)


def _needs_ddl(change: dict[str, Any]) -> bool:
    if change["op"] == "relax_field":
        return bool(set(change["options"]) & _DDL_RELAXATIONS)
    return change["op"] in DDL_OPS


def diff_definitions(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    diff = Diff()
    if old["primary_key"] != new["primary_key"]:
        diff.refuse("primary_key", "the primary key cannot change")
    for block, layout in CREATION_ONLY.items():
        if old.get(block) != new.get(block):
            diff.refuse(
                block,
                f"{layout} is set when a storage is created and cannot be added, removed or "
                "changed by a new version; create another storage and copy the records over",
            )
    if old["description"] != new["description"]:
        diff.changes.append({"op": "change_description"})
    if old.get("source") != new.get("source"):
        # Routing is read by the ingest endpoint only: any change is compatible, no DDL.
        diff.changes.append({"op": "change_source"})
    if old.get("retention") != new.get("retention"):
        # Read by the worker's retention runs only: any change is compatible, no DDL.
        diff.changes.append(
            {"op": "change_retention", "retention": [old.get("retention"), new.get("retention")]}
        )
    _diff_fields(old["fields"], new["fields"], diff)
    _diff_indexes(old["indexes"], new["indexes"], diff)
    return diff


def _diff_fields(old: list[dict], new: list[dict], diff: Diff) -> None:
    new_by_name = {spec["name"]: (i, spec) for i, spec in enumerate(new)}
    old_names = {spec["name"] for spec in old}
    for spec in old:
        if spec["name"] not in new_by_name:
            diff.refuse("fields", f"field '{spec['name']}' cannot be removed or renamed")
            continue
        position, candidate = new_by_name[spec["name"]]
        _diff_field(spec, candidate, f"fields.{position}", diff)
    for position, spec in enumerate(new):
        if spec["name"] in old_names:
            continue
        if spec["required"] and "default" not in spec:
            diff.refuse(f"fields.{position}", "a new required field needs a default")
        elif not spec["nullable"] and "default" not in spec:
            diff.refuse(f"fields.{position}", "a new field must be nullable or have a default")
        else:
            diff.changes.append({"op": "add_field", "field": spec["name"], "definition": spec})


def _diff_field(old: dict, new: dict, path: str, diff: Diff) -> None:
    if old["type"] != new["type"]:
        diff.refuse(f"{path}.type", f"the type cannot change ({old['type']} -> {new['type']})")
        return
    relaxed: dict[str, list[Any]] = {}
    for option, check in _OPTION_CHECKS.items():
        before, after = old.get(option), new.get(option)
        if before == after:
            continue
        problem = check(before, after)
        if problem:
            diff.refuse(f"{path}.{option}", problem)
        else:
            relaxed[option] = [before, after]
    _diff_default(old, new, path, diff)
    if relaxed:
        diff.changes.append({"op": "relax_field", "field": new["name"], "options": relaxed})


_MISSING = object()


def _diff_default(old: dict, new: dict, path: str, diff: Diff) -> None:
    if old.get("default", _MISSING) == new.get("default", _MISSING):
        return
    if "default" in old and "default" not in new and not (new["nullable"] or new["required"]):
        # Writers that omit the field would be refused from then on: a tightening.
        diff.refuse(f"{path}.default", "the default of a non-nullable field cannot be removed")
        return
    diff.changes.append(
        {
            "op": "change_default",
            "field": new["name"],
            "default": [old.get("default"), new.get("default")],
        }
    )


def _flag_relaxes(true_is_tighter: bool):
    def check(before: Any, after: Any) -> str | None:
        tightened = after if true_is_tighter else not after
        return "cannot be tightened" if tightened else None

    return check


def _num(value: Any) -> Decimal:
    return Decimal(str(value))


def _max_length(before: Any, after: Any) -> str | None:
    if after is None:
        return None
    if before is None or after < before:
        return "max_length can only be raised"
    return None


def _lower_bound(before: Any, after: Any) -> str | None:
    if after is None:
        return None
    if before is None or _num(after) > _num(before):
        return "min can only be lowered"
    return None


def _upper_bound(before: Any, after: Any) -> str | None:
    if after is None:
        return None
    if before is None or _num(after) < _num(before):
        return "max can only be raised"
    return None


def _choices(before: Any, after: Any) -> str | None:
    if after is None:
        return None
    if before is None or not set(map(repr, before)) <= set(map(repr, after)):
        return "choices can only gain values"
    return None


def _fixed(option: str):
    return lambda before, after: f"{option} cannot change"


_OPTION_CHECKS = {
    "required": _flag_relaxes(true_is_tighter=True),
    "nullable": _flag_relaxes(true_is_tighter=False),
    "max_length": _max_length,
    "min": _lower_bound,
    "max": _upper_bound,
    "choices": _choices,
    "max_digits": _fixed("max_digits"),
    "decimal_places": _fixed("decimal_places"),
}


def _index_key(spec: dict[str, Any]) -> tuple:
    return (tuple(spec["fields"]), spec["type"], spec["unique"])


def _diff_indexes(old: list[dict], new: list[dict], diff: Diff) -> None:
    old_keys = {_index_key(spec): spec for spec in old}
    new_keys = {_index_key(spec): spec for spec in new}
    for key, spec in new_keys.items():
        if key not in old_keys:
            diff.changes.append({"op": "add_index", "index": spec})
    for key, spec in old_keys.items():
        if key not in new_keys:
            diff.changes.append({"op": "drop_index", "index": spec})
