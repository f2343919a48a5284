"""Read-only admin views of storages and their versions: definitions change over the API."""

import json

from django.contrib import admin
from django.utils.html import format_html

from factory.models import StorageDefinition, StorageVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class StorageVersionInline(admin.TabularInline):
    model = StorageVersion
    fields = ("number", "status", "detail", "created_at", "ready_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StorageDefinition)
class StorageDefinitionAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "serving_version", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("name", "description")
    readonly_fields = (
        "name",
        "description",
        "version",
        "serving_version",
        "status",
        "created_at",
        "updated_at",
    )
    inlines = [StorageVersionInline]


@admin.register(StorageVersion)
class StorageVersionAdmin(ReadOnlyAdmin):
    list_display = ("storage", "number", "status", "created_at", "ready_at")
    list_filter = ("status",)
    search_fields = ("storage__name",)
    readonly_fields = (
        "storage",
        "number",
        "status",
        "detail",
        "created_at",
        "ready_at",
        "pretty_definition",
        "pretty_changes",
    )
    exclude = ("definition", "changes")

    @admin.display(description="definition")
    def pretty_definition(self, obj: StorageVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.definition, indent=2))

    @admin.display(description="changes")
    def pretty_changes(self, obj: StorageVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.changes, indent=2))
