"""Stripe webhook events, applied exactly once: the event row is inserted and its effect
applied in one transaction, so a delivered-again event finds its row and does nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from billing.models import BillingAccount, StripeEvent
from billing.subscriptions import subscription_apply
from tenants.models import Tenant

logger = logging.getLogger("rapport.billing")

Event = dict[str, Any]


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
    subscription_apply(
        customer=subscription.get("customer"),
        subscription=subscription,
        version=event["created"],
        source=event["id"],
        deleted=event["type"] == "customer.subscription.deleted",
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
