"""Input and output shapes of the tokens API."""

from rest_framework import serializers

from access.grants import GRANT_KINDS
from access.models import ApiToken


class _NoUnknownKeys:
    """Refuse keys the serializer does not know (a misspelt key must not be ignored)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown key."] for key in unknown})
        return super().to_internal_value(data)


class GrantSerializer(_NoUnknownKeys, serializers.Serializer):
    storage = serializers.CharField(max_length=50)
    access = serializers.ListField(
        child=serializers.ChoiceField(choices=GRANT_KINDS), min_length=1, max_length=3
    )

    def to_representation(self, grant):
        return {"storage": grant.storage.name, "access": grant.access}


class TokenInputSerializer(_NoUnknownKeys, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    admin = serializers.BooleanField(default=False)
    grants = GrantSerializer(many=True, default=list)
    expires_at = serializers.DateTimeField(allow_null=True, default=None)


class TokenSerializer(serializers.ModelSerializer):
    grants = GrantSerializer(many=True, read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "admin",
            "grants",
            "expires_at",
            "revoked_at",
            "created_at",
            "active",
        ]


class IssuedTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True)

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
