"""Seats billed: the subscription's quantity follows the seats in use (active members and
pending invitations), prorated by Stripe; the workspace's seat limit follows what is paid."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import transaction

from billing import stripe_api
from billing.models import BillingAccount
from billing.module import SEATS_BILLED
from billing.plans import plan_spec
from billing.subscriptions import ENDED, subscription_apply
from tenants.audit.services import audit_record
from tenants.models import Tenant
from tenants.selectors import seats_used

logger = logging.getLogger("rapport.billing")


def seat_cap(tenant: Tenant) -> int:
    """A paying workspace takes seats up to its plan's cap (each extra seat billed pro rata);
    any other workspace up to its seat limit."""
    if tenant.billing_status == Tenant.BillingStatus.ACTIVE and _live_account(tenant) is not None:
        return plan_spec(tenant.plan).seat_limit
    return tenant.seat_limit


def _live_account(tenant: Tenant) -> BillingAccount | None:
    account = BillingAccount.objects.filter(tenant=tenant).first()
    if (
        account is None
        or not account.stripe_subscription_id
        or account.subscription_status in ENDED
    ):
        return None
    return account


def seats_sync(*, tenant_id: int) -> int | None:
    """Bill the seats in use now. Returns the quantity billed, or None without a live
    subscription. Raises StripeUnavailable (the task retries); nothing local changes then."""
    tenant = Tenant.objects.get(pk=tenant_id)
    account = _live_account(tenant)
    if account is None:
        return None
    # Never below the seats bought on the billing page, never above the plan's cap.
    wanted = max(seats_used(tenant=tenant), account.seats_purchased)
    quantity = max(1, min(wanted, plan_spec(tenant.plan).seat_limit))
    subscription = stripe_api.subscription_retrieve(account.stripe_subscription_id)
    items: list[dict[str, Any]] = (subscription.get("items") or {}).get("data") or []
    billed = items[0].get("quantity") if items else None
    if billed == quantity:
        return quantity
    # Retries of this change reuse the key; the next change (a newer version) gets its own.
    key = f"seats-{account.stripe_subscription_id}-{account.subscription_version}-{quantity}"
    updated = stripe_api.subscription_set_quantity(
        subscription_id=account.stripe_subscription_id, quantity=quantity, idempotency_key=key
    )
    with transaction.atomic():
        subscription_apply(
            customer=account.stripe_customer_id,
            subscription=updated,
            version=int(time.time()),
            source="seats",
        )
        audit_record(
            tenant=tenant,
            actor=None,
            action=SEATS_BILLED,
            data={"from": billed, "to": quantity},
        )
    logger.info("workspace %s billed for %s seats (was %s)", tenant_id, quantity, billed)
    return quantity
