"""Platform staff console on the public host (superusers only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from crm_platform.errors import ServiceError
from tenants import services
from tenants.models import Domain, Invitation, Membership, Tenant, User
from tenants.selectors import tenant_list_with_seats


class SuperuserOnlyAdminSite(admin.AdminSite):
    site_header = _("Rapport platform")

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


admin.site.__class__ = SuperuserOnlyAdminSite


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "plan", "state", "seats", "created_at")
    list_filter = ("state", "plan")
    search_fields = ("name", "slug", "schema_name")
    ordering = ("-created_at",)
    readonly_fields = ("schema_name", "created_at", "activated_at")
    fields = (
        "name", "slug", "schema_name", "state", "plan", "seat_limit", "trial_ends_at",
        "time_zone", "currency", "require_mfa_for_admins", "created_at", "activated_at",
    )  # fmt: skip
    actions = ("suspend", "reactivate", "delete_workspaces")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return tenant_list_with_seats()

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deletion drops a schema: only through the confirmed action

    @admin.display(description=_("Seats used"))
    def seats(self, tenant: Tenant) -> str:
        return f"{tenant.seats_taken} / {tenant.seat_limit}"

    @admin.action(description=_("Suspend (read-only)"))
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._apply(
            request, queryset, services.workspace_suspend, _("%(workspace)s is now suspended.")
        )

    @admin.action(description=_("Reactivate"))
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._apply(
            request, queryset, services.workspace_reactivate, _("%(workspace)s is active again.")
        )

    def _apply(self, request: HttpRequest, queryset: QuerySet[Tenant], fn: Any, done: Any) -> None:
        for tenant in queryset:
            try:
                fn(tenant=tenant, actor=request.user)
            except ServiceError as error:
                self.message_user(
                    request,
                    _("%(workspace)s: %(problem)s")
                    % {"workspace": tenant, "problem": error.message},
                    messages.ERROR,
                )
            else:
                message = done % {"workspace": tenant}
                self.log_change(request, tenant, message)
                self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Delete workspace (drops all its data)"))
    def delete_workspaces(
        self, request: HttpRequest, queryset: QuerySet[Tenant]
    ) -> HttpResponse | None:
        if request.POST.get("confirm") == "yes":
            # The workspace's own audit log goes with its schema; the platform keeps this one.
            self.log_deletions(request, queryset)
            for tenant in queryset:
                label = f"{tenant.name} ({tenant.slug})"
                services.workspace_delete(tenant=tenant, actor=request.user)  # type: ignore[arg-type]
                self.message_user(
                    request,
                    _("%(workspace)s was deleted.") % {"workspace": label},
                    messages.SUCCESS,
                )
            return None
        return TemplateResponse(
            request,
            "admin/tenants/confirm_delete.html",
            {
                **self.admin_site.each_context(request),
                "tenants": queryset,
                "opts": self.model._meta,
            },
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role", "status", "last_seen_at")
    list_filter = ("role", "status")
    search_fields = ("user__email", "tenant__slug")
    raw_id_fields = ("user", "tenant")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "tenant", "role", "status", "expires_at")
    list_filter = ("status",)
    search_fields = ("email", "tenant__slug")
    exclude = ("nonce",)


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "is_active", "is_superuser", "date_joined")
    search_fields = ("email", "full_name")
    exclude = ("password", "groups", "user_permissions")


admin.site.register(Domain)
