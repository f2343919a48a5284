"""Tokens and grants in the Django admin, and the storage grants of staff users.

A token is issued here as over the API (access.services.token_issue): its secret is shown
once, on the page that answers the form (never cached: the admin's pages are no-store),
and never stored. Tokens are revoked by an action
(token_revoke) or by setting `revoked_at`. Every change made here is audited with the admin
user, in the admin's own transaction (each admin view runs in one): the forms save the
rows, access.services audits them.
"""

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from access.models import ApiToken, Grant, UserGrant
from access.services import grant_audit, token_audit, token_issue, token_revoke, token_state
from audit.actors import actor_from_request


def _grant_audit(actor: Any, grant: Grant | UserGrant, *, before: Any, after: Any) -> None:
    """access.services.grant_audit for a grant the admin changed (its storage, its token or
    its user)."""
    grant_audit(
        actor=actor,
        storage=grant.storage.name,
        token_id=getattr(grant, "token_id", None),
        user=grant.user.get_username() if isinstance(grant, UserGrant) else None,
        before=before,
        after=after,
    )


def _token_before(token: ApiToken) -> dict[str, Any] | None:
    # The form has already set the new values on `token`: the old ones are in the database.
    stored = ApiToken.objects.filter(pk=token.pk).first() if token.pk else None
    return token_state(stored) if stored else None


def _access_before(grants: list[Any], model: type = Grant) -> dict[int, list[str]]:
    """The stored access of these grants, by the Python identity of each (a deleted grant
    loses its pk)."""
    stored = model.objects.in_bulk([grant.pk for grant in grants if grant.pk])
    return {id(grant): stored[grant.pk].access for grant in grants if grant.pk in stored}


class GrantInline(admin.TabularInline):
    model = Grant
    extra = 0
    autocomplete_fields = ("storage",)


def _save_grants(request, formset, model: type) -> None:
    """Save an inline formset of grants, and audit each grant given, changed or removed."""
    before = _access_before([inline.instance for inline in formset.forms], model)
    formset.save()
    actor = actor_from_request(request)
    changed = [grant for grant, _fields in formset.changed_objects]
    deleted = {id(grant) for grant in formset.deleted_objects}
    for grant in [*formset.new_objects, *changed, *formset.deleted_objects]:
        after = None if id(grant) in deleted else grant.access
        _grant_audit(actor, grant, before=before.get(id(grant)), after=after)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "admin", "state", "created_at", "expires_at", "revoked_at")
    list_filter = ("admin",)
    search_fields = ("name", "prefix")
    inlines = [GrantInline]
    actions = ["revoke"]

    def get_fields(self, request, obj: ApiToken | None = None) -> list[str]:
        if obj is None:  # issuing: the secret, its hash and prefix are made by the service
            return ["name", "admin", "expires_at"]
        return ["name", "prefix", "admin", "created_at", "expires_at", "revoked_at"]

    def get_readonly_fields(self, request, obj: ApiToken | None = None) -> tuple[str, ...]:
        return () if obj is None else ("prefix", "created_at")

    @admin.display(description="state")
    def state(self, token: ApiToken) -> str:
        if token.revoked_at is not None:
            return "revoked"
        return "active" if token.is_active else "expired"

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = actor_from_request(request)
        for token in queryset:
            token_revoke(token_id=token.pk, actor=actor)  # audited there; revoked ones: no-op
        self.message_user(request, f"Revoked {queryset.count()} token(s).")

    def save_model(self, request, obj: ApiToken, form, change: bool) -> None:
        if not change:
            self._issue(request, obj)
            return
        before = _token_before(obj)
        super().save_model(request, obj, form, change)
        token_audit(
            actor=actor_from_request(request),
            token_id=obj.pk,
            before=before,
            after=token_state(obj),
        )

    def _issue(self, request, obj: ApiToken) -> None:
        """Issue the token as the API does; the form's instance becomes it, so that the
        grants of the inline are saved on it. The secret is kept on the request only, for
        response_add to show once."""
        issued = token_issue(
            name=obj.name,
            admin=obj.admin,
            expires_at=obj.expires_at,
            actor=actor_from_request(request),
        )
        for field in ("id", "secret_hash", "prefix", "created_at"):
            setattr(obj, field, getattr(issued.token, field))
        obj._state.adding, obj._state.db = False, issued.token._state.db
        request.issued_secret = issued.secret  # type: ignore[attr-defined]

    def response_add(self, request, obj: ApiToken, post_url_continue=None) -> HttpResponse:
        """The page that shows the new token's secret, once: it is stored nowhere (not in a
        message, which would keep it in a cookie)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Token '{obj.name}' issued",
            "token": obj,
            "secret": request.issued_secret,  # type: ignore[attr-defined]
            "grants": obj.grants.select_related("storage").order_by("storage__name"),
            "now": timezone.now(),
        }
        return TemplateResponse(request, "admin/access/apitoken/issued.html", context)

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
        _save_grants(request, formset, Grant)


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


class UserGrantInline(admin.TabularInline):
    """What a staff user may do with each storage through the browsable API and Swagger UI
    (superusers may do everything)."""

    model = UserGrant
    extra = 0
    autocomplete_fields = ("storage",)
    verbose_name = "storage grant"
    verbose_name_plural = "storage grants (the API with this user's admin session)"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Django's user admin, with the user's storage grants."""

    inlines = [*UserAdmin.inlines, UserGrantInline]

    def save_formset(self, request, form, formset, change: bool) -> None:
        if formset.model is UserGrant:
            _save_grants(request, formset, UserGrant)
        else:
            super().save_formset(request, form, formset, change)
