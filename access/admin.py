"""Tokens and grants in the Django admin; the secret is never shown (it is not stored).

Every change made here is audited with the admin user, in the admin's own transaction
(each admin view runs in one): the forms save the rows, access.services audits them.
"""

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet

from access.models import ApiToken, Grant
from access.services import grant_audit, token_audit, token_state
from audit.actors import actor_from_request


def _grant_audit(actor: Any, grant: Grant, *, before: Any, after: Any) -> None:
    """access.services.grant_audit for a grant the admin changed (its storage, its token)."""
    grant_audit(
        actor=actor, storage=grant.storage.name, token_id=grant.token_id, before=before, after=after
    )


def _token_before(token: ApiToken) -> dict[str, Any] | None:
    # The form has already set the new values on `token`: the old ones are in the database.
    stored = ApiToken.objects.filter(pk=token.pk).first() if token.pk else None
    return token_state(stored) if stored else None


def _access_before(grants: list[Grant]) -> dict[int, list[str]]:
    """The stored access of these grants, by the Python identity of each (a deleted grant
    loses its pk)."""
    stored = Grant.objects.in_bulk([grant.pk for grant in grants if grant.pk])
    return {id(grant): stored[grant.pk].access for grant in grants if grant.pk in stored}


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

    def save_model(self, request, obj: ApiToken, form, change: bool) -> None:
        before = _token_before(obj)
        super().save_model(request, obj, form, change)
        token_audit(
            actor=actor_from_request(request),
            token_id=obj.pk,
            before=before,
            after=token_state(obj),
        )

    def delete_model(self, request, obj: ApiToken) -> None:
        self.delete_queryset(request, ApiToken.objects.filter(pk=obj.pk))

    @transaction.atomic  # the changelist's "delete selected" runs in none of its own
    def delete_queryset(self, request, queryset: QuerySet) -> None:
        actor = actor_from_request(request)
        for token in queryset.prefetch_related("grants__storage"):
            for grant in token.grants.all():
                _grant_audit(actor, grant, before=grant.access, after=None)
            token_audit(actor=actor, token_id=token.pk, before=token_state(token), after=None)
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change: bool) -> None:
        before = _access_before([inline.instance for inline in formset.forms])
        super().save_formset(request, form, formset, change)
        actor = actor_from_request(request)
        changed = [grant for grant, _fields in formset.changed_objects]
        deleted = {id(grant) for grant in formset.deleted_objects}
        for grant in [*formset.new_objects, *changed, *formset.deleted_objects]:
            after = None if id(grant) in deleted else grant.access
            _grant_audit(actor, grant, before=before.get(id(grant)), after=after)


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ("token", "storage", "read", "write", "manage")
    list_filter = ("read", "write", "manage")
    search_fields = ("token__name", "storage__name")

    def save_model(self, request, obj: Grant, form, change: bool) -> None:
        before = _access_before([obj]).get(id(obj))
        super().save_model(request, obj, form, change)
        _grant_audit(actor_from_request(request), obj, before=before, after=obj.access)

    def delete_model(self, request, obj: Grant) -> None:
        self.delete_queryset(request, Grant.objects.filter(pk=obj.pk))

    @transaction.atomic  # the changelist's "delete selected" runs in none of its own
    def delete_queryset(self, request, queryset: QuerySet) -> None:
        actor = actor_from_request(request)
        for grant in queryset.select_related("storage"):
            _grant_audit(actor, grant, before=grant.access, after=None)
        super().delete_queryset(request, queryset)
