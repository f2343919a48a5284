"""Output shapes of the factory API (input is validated by factory.schema.definition)."""

from rest_framework import serializers


class StorageSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    version = serializers.IntegerField()
    status = serializers.CharField()


class PrimaryKeySerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["serial", "uuid", "integer", "text"])


class FieldSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField()
    nullable = serializers.BooleanField()
    default = serializers.JSONField(required=False)
    max_length = serializers.IntegerField(required=False)
    min = serializers.JSONField(required=False)
    max = serializers.JSONField(required=False)
    choices = serializers.ListField(child=serializers.JSONField(), required=False)
    max_digits = serializers.IntegerField(required=False)
    decimal_places = serializers.IntegerField(required=False)


class IndexSpecSerializer(serializers.Serializer):
    fields = serializers.ListField(child=serializers.CharField())
    type = serializers.ChoiceField(choices=["btree", "hash", "gin", "brin"])
    unique = serializers.BooleanField()


class SourceSerializer(serializers.Serializer):
    match = serializers.DictField()
    map = serializers.DictField(child=serializers.CharField())


class RetentionSerializer(serializers.Serializer):
    field = serializers.CharField()
    keep = serializers.CharField(help_text="ISO 8601 duration of weeks or days and time: P90D")


class DistributionSerializer(serializers.Serializer):
    shards = serializers.IntegerField(
        min_value=1,
        max_value=1024,
        help_text="shards of the table, by its primary key, on a Citus cluster",
    )


class PartitionSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="a required date or datetime field, or _created_at")
    interval = serializers.ChoiceField(choices=["day", "week", "month"])


class StorageDetailSerializer(StorageSummarySerializer):
    primary_key = PrimaryKeySerializer()
    fields = FieldSpecSerializer(many=True)
    indexes = IndexSpecSerializer(many=True)
    source = SourceSerializer(allow_null=True)
    retention = RetentionSerializer(allow_null=True)
    distribution = DistributionSerializer(allow_null=True)
    partition = PartitionSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class StorageChangedSerializer(StorageDetailSerializer):
    """The answer to a PUT that was applied: the new current definition and what changed."""

    changes = serializers.ListField(child=serializers.DictField())


class DefinitionInputSerializer(serializers.Serializer):
    """Documents the request body; validation proper is factory.schema.definition."""

    name = serializers.CharField()
    description = serializers.CharField(required=False)
    primary_key = PrimaryKeySerializer(required=False)
    fields = FieldSpecSerializer(many=True)
    indexes = IndexSpecSerializer(many=True, required=False)
    source = SourceSerializer(required=False)
    retention = RetentionSerializer(required=False)
    distribution = DistributionSerializer(required=False)
    partition = PartitionSerializer(
        required=False, help_text="PostgreSQL, at creation only: a table partitioned by time"
    )


class RetentionRunSerializer(serializers.Serializer):
    """The retention rule and the worker's last run of it (null fields: not run yet)."""

    field = serializers.CharField()
    keep = serializers.CharField()
    last_run_at = serializers.DateTimeField(allow_null=True)
    removed = serializers.IntegerField(allow_null=True, help_text="records the last run removed")
    oldest_kept = serializers.CharField(
        allow_null=True, help_text="the retention field's oldest value left (null: none)"
    )
    error = serializers.CharField(allow_null=True, help_text="why the last run stopped early")


class PartitionsStatusSerializer(serializers.Serializer):
    """A partitioned storage's partitions (null: not partitioned, or no table)."""

    field = serializers.CharField()
    interval = serializers.CharField()
    partitions = serializers.IntegerField(help_text="dated partitions (the default one apart)")
    start = serializers.DateField(allow_null=True, help_text="the oldest partition's first day")
    end = serializers.DateField(
        allow_null=True, help_text="the day after the newest partition (UTC, exclusive)"
    )
    default_rows = serializers.IntegerField(
        help_text="records in the default partition: outside every partition (normally 0)"
    )


# The README's example, with the indexes every database has (btree): the body Swagger UI's
# "Try it out" sends by default, which must create a storage (factory/tests/test_views.py).
EXAMPLE_DEFINITION: dict = {
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
        {"name": "size", "type": "text", "choices": ["small", "medium", "large"]},
        {"name": "extra", "type": "json"},
    ],
    "indexes": [{"fields": ["breed"]}, {"fields": ["name", "born"], "unique": True}],
}


class ReadyStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.IntegerField()
    serving_version = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=["pending", "migrating", "ready", "failed"])
    ready = serializers.BooleanField()
    detail = serializers.CharField(allow_null=True)
    retention = RetentionRunSerializer(allow_null=True)
    partitions = PartitionsStatusSerializer(allow_null=True)


class VersionSummarySerializer(serializers.Serializer):
    version = serializers.IntegerField(source="number")
    status = serializers.CharField()
    detail = serializers.CharField(allow_null=True)
    changes = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()
    ready_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["detail"] = data["detail"] or None
        return data


class VersionDetailSerializer(VersionSummarySerializer):
    definition = serializers.DictField()


class ChangeVerdictSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    compatible = serializers.BooleanField()
    version = serializers.IntegerField()
    changes = serializers.ListField(child=serializers.DictField())
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
