"""Tokens and grants in the Django admin; the secret is never shown (it is not stored)."""

from django.contrib import admin

from access.models import ApiToken, Grant


class GrantInline(admin.TabularInline):
    model = Grant
    extra = 0
    autocomplete_fields = ("storage",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "admin", "created_at", "expires_at", "revoked_at")
    list_filter = ("admin",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at")
    exclude = ("secret_hash",)
    inlines = [GrantInline]

    def has_add_permission(self, request) -> bool:
        # A token is issued with its secret shown once: over the API or `issue_token`.
        return False


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ("token", "storage", "read", "write", "manage")
    list_filter = ("read", "write", "manage")
    search_fields = ("token__name", "storage__name")
