"""docs/api-reference.md is generated from the OpenAPI document (scripts/api_reference.py,
`make docs`): the committed file must be what the script writes today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location(
        "api_reference", ROOT / "scripts" / "api_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_api_reference_is_up_to_date() -> None:
    script = load_script()

    expected = script.render(script.openapi_document())

    committed = (ROOT / "docs" / "api-reference.md").read_text()
    assert committed == expected, "docs/api-reference.md is stale: run `make docs`"


def test_the_api_reference_shows_every_operation_once() -> None:
    script = load_script()
    document = script.openapi_document()

    text = script.render(document)

    operations = [
        f"\n### {method.upper()} {path}\n"
        for path, item in document["paths"].items()
        for method in script.METHODS
        if method in item
    ]
    assert len(operations) == 29
    assert all(text.count(heading) == 1 for heading in operations)
