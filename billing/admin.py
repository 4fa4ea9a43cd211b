"""Billing in the platform admin (superusers with two-factor authentication): each workspace's
Stripe records, read-only, with reconciliation on demand, and the deletions of canceled
workspaces."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from billing.models import BillingAccount, WorkspaceDeletion
from billing.reconcile import reconcile_all


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin[BillingAccount]):
    list_display = (
        "tenant",
        "stripe_customer_id",
        "stripe_subscription_id",
        "subscription_status",
        "cancel_at_period_end",
        "updated_at",
    )
    search_fields = ("tenant__name", "tenant__slug", "stripe_customer_id")
    actions = ("reconcile",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description=_("Reconcile with Stripe now"))
    def reconcile(self, request: HttpRequest, queryset: QuerySet[BillingAccount]) -> None:
        result = reconcile_all(tenant_ids=list(queryset.values_list("tenant_id", flat=True)))
        self.message_user(
            request,
            _("%(checked)d checked, %(repaired)d repaired, %(failed)d not reachable at Stripe.")
            % {"checked": result.checked, "repaired": result.repaired, "failed": result.failed},
            messages.WARNING if result.failed else messages.SUCCESS,
        )


@admin.register(WorkspaceDeletion)
class WorkspaceDeletionAdmin(admin.ModelAdmin[WorkspaceDeletion]):
    list_display = ("schema_name", "name", "status", "delete_after", "deleted_at")
    list_filter = ("status",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
