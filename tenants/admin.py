"""Platform staff console on the public host (superusers only)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.utils import is_mfa_enabled
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants import services
from tenants.access import client_ip
from tenants.hosts import safe_local_path
from tenants.models import Domain, Invitation, Membership, Tenant, User
from tenants.selectors import tenant_list_with_seats
from tenants.services.common import FULL_NAME_MAX, NAME_MAX


def signed_in_with_mfa(request: HttpRequest) -> bool:
    """This session's sign-in included a second factor (allauth records each step)."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


class SuperuserOnlyAdminSite(admin.AdminSite):
    """Platform staff only: superusers whose account has two-factor authentication and whose
    session was signed in with it. There is one sign-in page, allauth's (MFA, rate limits);
    the admin has no password form of its own."""

    site_header = _("Rapport platform")

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active
            and user.is_superuser
            and is_mfa_enabled(user)
            and signed_in_with_mfa(request)
        )

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        next_path = safe_local_path(request.GET.get("next"), default=reverse("admin:index"))
        user = request.user
        if not user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': next_path})}")
        if not user.is_superuser:
            raise PermissionDenied
        if not is_mfa_enabled(user):
            messages.warning(
                request, _("Platform staff must set up two-factor authentication first.")
            )
            return redirect("mfa_activate_totp")
        # Signed in before two-factor authentication was set up: confirm with a code now.
        return redirect(f"{reverse('mfa_reauthenticate')}?{urlencode({'next': next_path})}")


admin.site.__class__ = SuperuserOnlyAdminSite


def _admin_text(raw: str, field: str, max_length: int, label: Any) -> str:
    try:
        return check_text(raw, field=field, max_length=max_length, label=str(label))
    except ServiceError as error:
        raise forms.ValidationError(error.message, code=error.code) from error


class TenantAdminForm(forms.ModelForm[Tenant]):
    class Meta:
        model = Tenant
        fields = ("name", "plan", "seat_limit", "trial_ends_at")

    def clean_name(self) -> str:
        return _admin_text(self.cleaned_data["name"], "name", NAME_MAX, _("Workspace name"))


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin[Tenant]):
    list_display = ("name", "slug", "plan", "state", "seats", "created_at")
    list_filter = ("state", "plan")
    search_fields = ("name", "slug", "schema_name")
    ordering = ("-created_at",)
    form = TenantAdminForm
    # The slug names the workspace's host (its Domain row) and the state changes only through
    # the suspend / reactivate / delete actions, which call the services; the workspace's own
    # settings belong to its admins (audited in the workspace).
    readonly_fields = (
        "slug", "schema_name", "state", "time_zone", "currency", "require_mfa_for_admins",
        "restrict_record_visibility", "created_at", "activated_at",
    )  # fmt: skip
    fields = (
        "name", "slug", "schema_name", "state", "plan", "seat_limit", "trial_ends_at",
        "time_zone", "currency", "require_mfa_for_admins", "restrict_record_visibility",
        "created_at", "activated_at",
    )  # fmt: skip
    actions = ("suspend", "reactivate", "delete_workspaces")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return tenant_list_with_seats()

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        # Through the service: the row is locked, and the workspace's audit log records the
        # change with its values.
        services.workspace_update_by_staff(
            tenant=obj,
            actor=request.user,  # type: ignore[arg-type]
            changes={name: form.cleaned_data[name] for name in form.changed_data},
            ip_address=client_ip(request),
        )

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> list[dict[str, dict[str, list[str]]]]:
        # The platform's own trail (the admin's history, which outlives the workspace) keeps
        # the values too, not only the names of the fields.
        message = super().construct_change_message(request, form, formsets, add)
        if add or not form.changed_data:
            return message
        changed = [
            f"{name}: {form.initial.get(name)!s} → {form.cleaned_data.get(name)!s}"
            for name in form.changed_data
        ]
        return [{"changed": {"fields": changed}}]

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


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows that change only through the services (which check roles, the last Owner, seats
    and domains, and audit): platform staff may look, not edit."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("user", "tenant", "role", "status", "last_seen_at")
    list_filter = ("role", "status")
    search_fields = ("user__email", "tenant__slug")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("email", "tenant", "role", "status", "expires_at")
    list_filter = ("status",)
    search_fields = ("email", "tenant__slug")
    exclude = ("nonce",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [name for name in super().get_readonly_fields(request, obj) if name != "nonce"]


@admin.register(Domain)
class DomainAdmin(ReadOnlyAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)


class UserAdminForm(forms.ModelForm[User]):
    class Meta:
        model = User
        fields = ("full_name", "is_staff", "is_superuser")

    def clean_full_name(self) -> str:
        return _admin_text(
            self.cleaned_data["full_name"], "full_name", FULL_NAME_MAX, _("Full name")
        )


@admin.register(User)
class UserAdmin(admin.ModelAdmin[User]):
    form = UserAdminForm
    list_display = ("email", "full_name", "is_active", "is_superuser", "date_joined")
    search_fields = ("email", "full_name")
    fields = ("email", "full_name", "is_active", "is_staff", "is_superuser", "date_joined")
    # The address is also allauth's (verified) EmailAddress; deleting an account would take its
    # seats with it, the last Owner's included.
    readonly_fields = ("email", "is_active", "date_joined")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
