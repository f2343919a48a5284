"""The audit trail in the Django admin: read only (a trail anyone could edit proves nothing)."""

import json

from django.contrib import admin
from django.utils.html import format_html

from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "storage", "actor_kind", "actor_name", "request_id")
    list_filter = ("action", "actor_kind")
    search_fields = ("storage", "actor_name", "request_id")
    date_hierarchy = "at"
    exclude = ("changes",)
    readonly_fields = (
        "at",
        "action",
        "storage",
        "token_id",
        "actor_kind",
        "actor_id",
        "actor_name",
        "pretty_changes",
        "request_id",
        "address",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="changes")
    def pretty_changes(self, obj: AuditEntry) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.changes, indent=2))
