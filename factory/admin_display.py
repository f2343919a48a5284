"""A definition as a person reads it in the admin: its fields, indexes, layout, source rules and
version changes as HTML tables and sentences, from the normal form (factory.schema's
definition.py), never as a JSON blob. Every value is escaped by format_html."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from factory.schema.source import COMBINATORS

# The options every field has, shown in their own columns; the rest go to "options".
_COMMON = ("name", "type", "required", "nullable", "default")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], css: str = "") -> SafeString:
    """An HTML table in the admin's style; a cell that is already safe HTML stays so."""
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    if not body:
        return format_html("<p>{}</p>", "none")
    return format_html(
        '<table class="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', css, head, body
    )


def value(data: Any) -> str:
    """A value of the normal form as JSON spells it (a default, a bound, a choice)."""
    return json.dumps(data, ensure_ascii=False)


def fields_table(definition: dict[str, Any]) -> SafeString:
    key = definition["primary_key"]
    rows = [(key["name"], f"{key['type']} (primary key)", "", "", "", "")]
    for field in definition["fields"]:
        # By name: the stored JSON keeps no order on PostgreSQL (jsonb).
        options = ", ".join(
            f"{name} {value(field[name])}" for name in sorted(field) if name not in _COMMON
        )
        rows.append(
            (
                field["name"],
                field["type"],
                _yes(field["required"]),
                _yes(field["nullable"]),
                value(field["default"]) if "default" in field else "",
                options,
            )
        )
    headers = ("name", "type", "required", "nullable", "default", "options")
    return table(headers, rows, "storage-fields")


def indexes_table(definition: dict[str, Any]) -> SafeString:
    rows = [
        (", ".join(index["fields"]), index["type"], _yes(index["unique"]))
        for index in definition["indexes"]
    ]
    return table(("fields", "type", "unique"), rows, "storage-indexes")


def layout_table(definition: dict[str, Any]) -> SafeString:
    """Where the records live and how long: distribution, partitions, retention."""
    shards = (definition.get("distribution") or {}).get("shards")
    partition = definition.get("partition")
    retention = definition.get("retention")
    rows = [
        (
            "distribution",
            f"{shards} shards by the primary key (Citus)" if shards else "one table",
        ),
        (
            "partitions",
            f"by {partition['interval']} of {partition['field']}" if partition else "none",
        ),
        (
            "retention",
            f"keeps {retention['keep']} by {retention['field']}" if retention else "keeps all",
        ),
    ]
    return table(("", ""), rows, "storage-layout")


def source_rules(definition: dict[str, Any]) -> SafeString:
    """The `source` block: the match condition as nested sentences, the map as a table."""
    source = definition.get("source")
    if not source:
        return format_html("<p>{}</p>", "No source: this storage takes no events.")
    mapping = table(
        ("field", "from the event at (JSON Pointer)"),
        sorted(source["map"].items()),
        "storage-source-map",
    )
    return format_html(
        "<p>Takes the events that match:</p>{}<p>and maps them so:</p>{}",
        _condition(source["match"]),
        mapping,
    )


def _condition(condition: dict[str, Any]) -> SafeString:
    operator = next((key for key in COMBINATORS if key in condition), None)
    if operator is not None:
        operand = condition[operator]
        parts = operand if isinstance(operand, list) else [operand]
        words = {"all": "all of", "any": "any of", "not": "not"}[operator]
        items = format_html_join("", "<li>{}</li>", ((_condition(part),) for part in parts))
        return format_html("{}<ul>{}</ul>", words, items)
    pointer = condition.get("path", "")
    tests = ", ".join(f"{name} {value(test)}" for name, test in condition.items() if name != "path")
    return format_html("<code>{}</code> {}", pointer, tests)


def changes_list(changes: list[dict[str, Any]]) -> SafeString:
    """A version's changes, one line each (`add_field age`, `add_index name, born`)."""
    lines = []
    for change in changes:
        subject = change.get("field") or ", ".join(change.get("index", {}).get("fields", []))
        lines.append(" ".join(part for part in (change["op"].replace("_", " "), subject) if part))
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) or "—"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
