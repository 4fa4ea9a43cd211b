"""Stripe webhook events, applied exactly once: the event row is inserted and its effect
applied in one transaction, so a delivered-again event finds its row and does nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import BillingAccount, StripeEvent
from billing.module import SUBSCRIPTION_CHANGED
from billing.plans import plan_from_lookup_key, plan_spec
from tenants.audit.services import audit_record
from tenants.models import Tenant

logger = logging.getLogger("rapport.billing")

Event = dict[str, Any]

# Subscription statuses (Stripe's) → the workspace's billing status.
_PAYING = {"active", "trialing"}
_OVERDUE = {"past_due", "unpaid"}
_ENDED = {"canceled", "incomplete_expired"}


def stripe_event_record(*, event: Event) -> bool:
    """Apply ``event`` unless it was applied before. True when it took effect now."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                StripeEvent.objects.create(
                    event_id=event["id"],
                    type=event["type"],
                    created=event["created"],
                    payload=event,
                )
        except IntegrityError:
            return False  # the same event, delivered again (or concurrently)
        handler = _HANDLERS.get(event["type"])
        if handler is not None:
            handler(event)
    return True


def _lock_account(customer_id: object) -> BillingAccount | None:
    if not isinstance(customer_id, str):
        return None
    account = (
        BillingAccount.objects.select_for_update()
        .select_related("tenant")
        .filter(stripe_customer_id=customer_id)
        .first()
    )
    if account is None:
        logger.warning("stripe event for an unknown customer %s", customer_id)
    return account


def _lock_tenant(account: BillingAccount) -> Tenant:
    return Tenant.objects.select_for_update().get(pk=account.tenant_id)


def _subscription_changed(event: Event) -> None:
    subscription = event["data"]["object"]
    account = _lock_account(subscription.get("customer"))
    if account is None:
        return
    # Events arrive out of order: an older picture of the subscription never wins.
    if event["created"] < account.subscription_version:
        return
    status = str(subscription.get("status", ""))
    if event["type"] == "customer.subscription.deleted":
        status = "canceled"
    tenant = _lock_tenant(account)
    before = (tenant.plan, tenant.seat_limit, tenant.billing_status)
    items = (subscription.get("items") or {}).get("data") or []
    if items:
        item = items[0]
        plan = plan_from_lookup_key(str((item.get("price") or {}).get("lookup_key") or ""))
        quantity = item.get("quantity")
        if plan is not None:
            tenant.plan = plan
        if isinstance(quantity, int) and quantity > 0:
            tenant.seat_limit = min(quantity, plan_spec(tenant.plan).seat_limit)
    if status in _PAYING:
        tenant.billing_status = Tenant.BillingStatus.ACTIVE
    elif status in _OVERDUE:
        tenant.billing_status = Tenant.BillingStatus.PAST_DUE
    elif status in _ENDED:
        tenant.billing_status = Tenant.BillingStatus.CANCELED
    tenant.save(update_fields=["plan", "seat_limit", "billing_status"])
    account.stripe_subscription_id = str(subscription.get("id", ""))
    account.subscription_status = status
    account.subscription_version = event["created"]
    account.updated_at = timezone.now()
    account.save(
        update_fields=[
            "stripe_subscription_id",
            "subscription_status",
            "subscription_version",
            "updated_at",
        ]
    )
    after = (tenant.plan, tenant.seat_limit, tenant.billing_status)
    if after != before:
        audit_record(
            tenant=tenant,
            actor=None,
            action=SUBSCRIPTION_CHANGED,
            data={
                "event": event["id"],
                "plan": tenant.plan,
                "seats": tenant.seat_limit,
                "status": tenant.billing_status,
            },
        )


def _invoice_paid(event: Event) -> None:
    account = _lock_account(event["data"]["object"].get("customer"))
    if account is None:
        return
    tenant = _lock_tenant(account)
    if tenant.billing_status == Tenant.BillingStatus.PAST_DUE:
        tenant.billing_status = Tenant.BillingStatus.ACTIVE
        tenant.save(update_fields=["billing_status"])


def _invoice_payment_failed(event: Event) -> None:
    account = _lock_account(event["data"]["object"].get("customer"))
    if account is None:
        return
    tenant = _lock_tenant(account)
    if tenant.billing_status == Tenant.BillingStatus.ACTIVE:
        tenant.billing_status = Tenant.BillingStatus.PAST_DUE
        tenant.save(update_fields=["billing_status"])


_HANDLERS: dict[str, Callable[[Event], None]] = {
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
}
