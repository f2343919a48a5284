"""The README's Configuration table is the one complete list of environment variables: every
variable datastorage/settings.py and datastorage/serve.py read has a row, every row names a
variable something reads, and a default spelt in the code is the table's."""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path
from typing import Any

from datastorage import serve

BASE = Path(__file__).resolve().parents[2]
SETTINGS = BASE / "datastorage" / "settings.py"
SERVE = BASE / "datastorage" / "serve.py"
# Read elsewhere, by name: prometheus_client (and `make serve`, which sets it); granian
# reads any GRANIAN_* variable itself (serve.py passes the environment through).
READ_ELSEWHERE = {"PROMETHEUS_MULTIPROC_DIR"}
_HELPERS = {"env_bool", "env_int", "env_list"}
_OPERATORS = {ast.Mult: operator.mul, ast.Add: operator.add, ast.Sub: operator.sub}


def table() -> dict[str, str]:
    """Variable -> its default as the README spells it (the first `…` of its cell)."""
    readme = (BASE / "README.md").read_text()
    section = readme[readme.index("## Configuration") : readme.index("## Docker Compose")]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        names_cell, default_cell = line.split("|")[1:3]
        names = re.findall(r"`([A-Z][A-Z0-9_*]+)`", names_cell)
        defaults = [re.findall(r"`([^`]*)`", part) for part in default_cell.split(" / ")]
        for position, name in enumerate(names):
            spelt = defaults[position] if len(defaults) == len(names) else []
            rows[name] = spelt[0] if spelt else ""
    return rows


def _value(node: ast.AST) -> Any:
    """A default made of literals (`32 * 1024 * 1024`); None for anything computed."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _value(node.left), _value(node.right)
        if isinstance(left, int) and isinstance(right, int):
            return _OPERATORS[type(node.op)](left, right)
    return None


def read_by(path: Path) -> dict[str, Any]:
    """Variable -> its default in the code (None when computed or absent), for every
    env_bool/env_int/env_list/os.environ.get/environ.get call naming one."""
    found: dict[str, Any] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        literal = first.value if isinstance(first, ast.Constant) else None
        if _reads_environment(node.func) and re.fullmatch(r"[A-Z][A-Z0-9_]+", str(literal)):
            default = _value(node.args[1]) if len(node.args) > 1 else None
            found.setdefault(literal, default)
    return found


def _reads_environment(func: ast.AST) -> bool:
    """settings' env_* helpers, os.environ.get, serve's environ.get."""
    if isinstance(func, ast.Name):
        return func.id in _HELPERS
    if not (isinstance(func, ast.Attribute) and func.attr == "get"):
        return False
    owner = func.value
    return (isinstance(owner, ast.Name) and owner.id == "environ") or (
        isinstance(owner, ast.Attribute) and owner.attr == "environ"
    )


def spelt(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def test_every_variable_read_has_a_row():
    read = {**read_by(SETTINGS), **read_by(SERVE)}

    assert sorted(set(read) - set(table())) == []
    assert sorted(set(serve.DEFAULTS) - set(table())) == []


def test_every_row_names_a_variable_that_is_read():
    known = {*read_by(SETTINGS), *read_by(SERVE), *serve.DEFAULTS, *READ_ELSEWHERE}
    granian = {name for name in table() if name.startswith("GRANIAN_")}

    assert sorted(set(table()) - known - granian) == []


def test_the_defaults_in_the_code_are_the_tables():
    rows = table()
    read = read_by(SETTINGS)
    differ = {
        name: (spelt(default), rows[name])
        for name, default in read.items()
        if default not in (None, "") and rows.get(name) and spelt(default) != rows[name]
    }

    assert differ == {}
    assert {name: rows[name] for name in serve.DEFAULTS} == serve.DEFAULTS
