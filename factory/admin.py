"""Read-only admin views of storages and their versions: definitions change over the API.

A storage's page shows it as a person needs it: its ready status and migration progress,
its record count, its fields, indexes, source rules and versions as tables
(factory.admin_display), and links to its records in the browsable API and to its
contract in Swagger UI.
"""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from factory import admin_display, selectors
from factory.models import StorageDefinition, StorageVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StorageDefinition)
class StorageDefinitionAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "serving_version", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("name", "description")
    fieldsets = (
        (None, {"fields": ("name", "description", "links", "ready", "records")}),
        (
            "Definition (the latest version)",
            {"fields": ("fields_table", "indexes_table", "layout_table")},
        ),
        ("Events", {"fields": ("source_rules",)}),
        ("Versions", {"fields": ("versions_table", "created_at", "updated_at")}),
    )
    readonly_fields = (
        "name",
        "description",
        "links",
        "ready",
        "records",
        "fields_table",
        "indexes_table",
        "layout_table",
        "source_rules",
        "versions_table",
        "created_at",
        "updated_at",
    )

    @admin.display(description="open")
    def links(self, storage: StorageDefinition) -> SafeString:
        name = {"name": storage.name}
        docs = f"?storage={storage.name}"
        links = [
            ("storage-records", reverse("record-list", kwargs=name), "Records"),
            ("storage-definition", reverse("storage-detail", kwargs=name), "Definition"),
            ("storage-contract", reverse("docs") + docs, "Contract in Swagger UI"),
            ("storage-redoc", reverse("redoc") + docs, "Contract in ReDoc"),
        ]
        note = "(the browsable API and the docs, with this session: no token needed)"
        joined = format_html_join(" · ", '<a class="{}" href="{}">{}</a>', links)
        return format_html("{} <span>{}</span>", joined, note)

    @admin.display(description="ready status")
    def ready(self, storage: StorageDefinition) -> SafeString:
        status = selectors.ready_status(name=storage.name)
        serving = status["serving_version"]
        summary = (
            f"version {status['version']}: {status['status']}; "
            f"serving version {serving if serving is not None else 'none'}"
        )
        pending = selectors.versions_unserved(storage=storage)
        progress = admin_display.table(
            ("version", "status", "changes to apply", "detail"),
            (
                (v.number, v.status, admin_display.changes_list(v.changes), v.detail or "")
                for v in pending
            ),
            "storage-progress",
        )
        detail = format_html("<p>{}</p>", status["detail"]) if status["detail"] else ""
        if not pending:
            return format_html('<p class="storage-ready">{}</p>{}', summary, detail)
        return format_html(
            '<p class="storage-ready">{}</p>{}<p>{}</p>{}',
            summary,
            detail,
            "Declared, not served yet (the worker applies them in order):",
            progress,
        )

    @admin.display(description="records")
    def records(self, storage: StorageDefinition) -> str:
        count = selectors.storage_record_count(storage=storage)
        return "no table (nothing served)" if count is None else f"{count:,}"

    @admin.display(description="fields")
    def fields_table(self, storage: StorageDefinition) -> SafeString:
        return admin_display.fields_table(self._latest(storage).definition)

    @admin.display(description="indexes")
    def indexes_table(self, storage: StorageDefinition) -> SafeString:
        return admin_display.indexes_table(self._latest(storage).definition)

    @admin.display(description="layout")
    def layout_table(self, storage: StorageDefinition) -> SafeString:
        return admin_display.layout_table(self._latest(storage).definition)

    @admin.display(description="source rules")
    def source_rules(self, storage: StorageDefinition) -> SafeString:
        return admin_display.source_rules(self._latest(storage).definition)

    @admin.display(description="versions")
    def versions_table(self, storage: StorageDefinition) -> SafeString:
        rows = (
            (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:factory_storageversion_change", args=[version.pk]),
                    version.number,
                ),
                version.status,
                admin_display.changes_list(version.changes),
                version.detail or "",
                version.created_at,
                version.ready_at or "",
            )
            for version in selectors.version_list(storage=storage)
        )
        headers = ("version", "status", "changes", "detail", "declared", "ready at")
        return admin_display.table(headers, rows, "storage-versions")

    def _latest(self, storage: StorageDefinition) -> StorageVersion:
        # One read per page, though four fields show it.
        cached = getattr(storage, "_latest_version", None)
        if cached is None:
            cached = selectors.version_get(storage=storage, number=storage.version)
            storage._latest_version = cached
        return cached


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
        "changes_display",
        "fields_table",
        "indexes_table",
        "layout_table",
        "source_rules",
        "pretty_definition",
    )
    exclude = ("definition", "changes")

    @admin.display(description="changes")
    def changes_display(self, obj: StorageVersion) -> SafeString:
        return admin_display.changes_list(obj.changes)

    @admin.display(description="fields")
    def fields_table(self, obj: StorageVersion) -> SafeString:
        return admin_display.fields_table(obj.definition)

    @admin.display(description="indexes")
    def indexes_table(self, obj: StorageVersion) -> SafeString:
        return admin_display.indexes_table(obj.definition)

    @admin.display(description="layout")
    def layout_table(self, storage: StorageDefinition) -> SafeString:
        return admin_display.layout_table(self._latest(storage).definition)

    @admin.display(description="source rules")
    def source_rules(self, obj: StorageVersion) -> SafeString:
        return admin_display.source_rules(obj.definition)

    @admin.display(description="definition as JSON (what GET …/versions/{number}/ answers)")
    def pretty_definition(self, obj: StorageVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.definition, indent=2))
