"""factory-boy factories for storage definitions (plain dicts, as the API receives them)."""

import factory


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
