"""Output shape of the audit trail."""

from rest_framework import serializers

from audit.models import Action, ActorKind, AuditEntry


class ActorSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ActorKind.choices, source="actor_kind")
    id = serializers.IntegerField(source="actor_id", allow_null=True)
    name = serializers.CharField(source="actor_name")


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=Action.choices)
    storage = serializers.CharField(allow_null=True)
    token_id = serializers.IntegerField(allow_null=True)
    actor = ActorSerializer(source="*")
    changes = serializers.DictField()
    request_id = serializers.CharField(allow_null=True)
    address = serializers.IPAddressField(allow_null=True)

    def to_representation(self, instance: AuditEntry) -> dict:
        data = super().to_representation(instance)
        # Empty strings in the table (no storage, no request) are null in the API.
        data["storage"] = data["storage"] or None
        data["request_id"] = data["request_id"] or None
        return data
