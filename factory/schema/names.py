"""Which identifiers a definition may use, and how tables and indexes are named.

Every name that reaches SQL passes through here first; Django then quotes it.
"""

from __future__ import annotations

import hashlib
import re

# Used with fullmatch: `$` alone would also accept a trailing newline ("dogs\n").
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
NAME_RULE = "must match ^[a-z][a-z0-9_]{0,49}$ (lower-case letter, then letters, digits, _)"

# The records API reads these as query parameters of the list and of the change feed; a
# field by such a name would be unfilterable, so it is refused.
LIST_PARAMETERS = frozenset({"limit", "cursor", "ordering", "fields", "count", "format"})
FEED_PARAMETERS = frozenset({"after", "limit", "fields", "wait"})
# A delete or update by filter's "no filter, really everything" (storage.by_filter).
BY_FILTER_PARAMETERS = frozenset({"all"})
QUERY_PARAMETERS = LIST_PARAMETERS | FEED_PARAMETERS | BY_FILTER_PARAMETERS

# Names a Django model cannot carry as attributes, or that would shadow its machinery: the
# public attributes of django.db.models.Model (Django 5.2), `pk` and `objects`. Spelt out,
# so that the rule is the same whatever runs it (factory/tests/test_names.py checks that it
# still covers the installed Django). What factory.schema.builder adds to a class starts
# with "_", which no field name can.
MODEL_ATTRIBUTES = frozenset(
    {
        "adelete", "arefresh_from_db", "asave", "check", "clean", "clean_fields",
        "date_error_message", "delete", "from_db", "full_clean", "get_constraints",
        "get_deferred_fields", "objects", "pk", "prepare_database_save", "refresh_from_db",
        "save", "save_base", "serializable_value", "unique_error_message",
        "validate_constraints", "validate_unique",
    }
)  # fmt: skip
# Python's keywords and soft keywords in lower case (the only ones a name here can spell),
# those of Python 3.12 on every version: `type` is refused on 3.11 too, so that a definition
# valid on one interpreter is valid on all (test_names.py checks the running one's).
PYTHON_KEYWORDS = frozenset(
    {
        "and", "as", "assert", "async", "await", "break", "case", "class", "continue", "def",
        "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
        "in", "is", "lambda", "match", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "type", "while", "with", "yield",
    }
)  # fmt: skip
# Every name refused as a field or primary-key name, whatever its reason (docs/api.md lists
# exactly these; test_names.py compares).
RESERVED_NAMES = PYTHON_KEYWORDS | MODEL_ATTRIBUTES | QUERY_PARAMETERS

# Prefix of every storage table: no Django app is labelled "ds", so no service table
# can ever be named like a storage table.
TABLE_PREFIX = "ds_"


def name_problem(name: object) -> str | None:
    """Why `name` cannot be a field or primary-key name, or None when it can."""
    if not isinstance(name, str):
        return "must be a string"
    if not NAME_RE.fullmatch(name):
        return NAME_RULE
    if "__" in name:
        return "must not contain '__' (Django's lookup separator)"
    if name.endswith("_"):
        return "must not end with '_'"
    if name in PYTHON_KEYWORDS:
        return f"'{name}' is a Python keyword"
    if name in MODEL_ATTRIBUTES:
        return f"'{name}' is reserved by the model machinery"
    if name in QUERY_PARAMETERS:
        return f"'{name}' is reserved as a query parameter of the records API"
    return None


def storage_name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return "must be a string"
    if not NAME_RE.fullmatch(name):
        return NAME_RULE
    return None


def table_name(storage_name: str) -> str:
    return f"{TABLE_PREFIX}{storage_name}"


def object_name(prefix: str, table: str, *parts: object) -> str:
    """A short, deterministic name for an index or constraint (within 30 characters)."""
    digest = hashlib.sha256("|".join([table, *map(str, parts)]).encode()).hexdigest()[:20]
    return f"{prefix}_{digest}"


def version_counter(table: str) -> str:
    """The counter of a storage table's record versions (factory.schema.record_versions)."""
    return object_name("dsv", table)
