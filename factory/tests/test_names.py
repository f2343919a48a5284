"""factory.schema.names: the reserved names are one fixed list, the same on every Python
version, that still covers what the running Python and Django reserve, and that docs/api.md
lists exactly."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from django.db import models

from factory.schema import names

API_DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_keywords_of_the_running_python_are_reserved():
    spelt = {
        word for word in [*keyword.kwlist, *keyword.softkwlist] if names.NAME_RE.fullmatch(word)
    }

    assert spelt <= names.PYTHON_KEYWORDS


def test_type_is_reserved_whatever_the_python_version():
    assert names.name_problem("type") == "'type' is a Python keyword"


def test_the_attributes_of_the_installed_django_model_are_reserved():
    public = {name for name in dir(models.Model) if names.NAME_RE.fullmatch(name)}

    assert public | {"pk", "objects"} <= names.MODEL_ATTRIBUTES


def test_docs_api_lists_exactly_the_reserved_names():
    text = API_DOCS.read_text()
    section = text[text.index("- **Reserved names**") :]
    section = section[: section.index("\n- ")]

    assert set(re.findall(r"`([a-z_]+)`", section)) == names.RESERVED_NAMES
