"""factory-boy factories for storage definitions (plain dicts, as the API receives them)."""

import importlib.metadata
import importlib.util
import sys


def _load_factory_boy():
    """factory_boy's package is named `factory`, like this app, which shadows it on sys.path
    (`import factory` here is the app); load it from its distribution under another name."""
    if "factory_boy" in sys.modules:
        return sys.modules["factory_boy"]
    init = importlib.metadata.distribution("factory_boy").locate_file("factory/__init__.py")
    spec = importlib.util.spec_from_file_location(
        "factory_boy", init, submodule_search_locations=[str(init.parent)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["factory_boy"] = module
    spec.loader.exec_module(module)
    return module


factory = _load_factory_boy()


class FieldSpecFactory(factory.DictFactory):
    name = factory.Sequence(lambda n: f"field_{n}")
    type = "text"


class DefinitionFactory(factory.DictFactory):
    name = factory.Sequence(lambda n: f"storage_{n}")
    description = "A storage made by a test"
    fields = factory.LazyFunction(
        lambda: [
            {"name": "name", "type": "text", "max_length": 120, "required": True},
            {"name": "age", "type": "integer", "min": 0, "max": 40, "default": 0},
        ]
    )


def dogs_definition(**overrides) -> dict:
    """The README's dogs example, with only the portable (btree) indexes."""
    definition = {
        "name": "dogs",
        "description": "Dogs out of the animal registry feed",
        "primary_key": {"name": "id", "type": "serial"},
        "fields": [
            {"name": "name", "type": "text", "max_length": 120, "required": True},
            {"name": "breed", "type": "text", "nullable": True},
            {"name": "age", "type": "integer", "min": 0, "max": 40, "default": 0},
            {"name": "weight_kg", "type": "decimal", "max_digits": 6, "decimal_places": 2},
            {"name": "vaccinated", "type": "boolean", "default": False},
            {"name": "born", "type": "date"},
            {"name": "registered_at", "type": "datetime", "required": True},
            {"name": "chip", "type": "uuid"},
            {"name": "size", "type": "text", "choices": ["small", "medium", "large"]},
            {"name": "extra", "type": "json"},
        ],
        "indexes": [
            {"fields": ["breed"]},
            {"fields": ["name", "born"], "unique": True},
        ],
    }
    definition.update(overrides)
    return definition
