"""Reconciliation: every workspace's subscription as we recorded it, compared with Stripe's,
and repaired where they differ (a webhook lost or never sent). Each repair is an audit row
naming what differed. Run nightly by Celery beat and on demand from the staff admin.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from billing import stripe_api
from billing.models import BillingAccount
from billing.module import DRIFT_REPAIRED
from billing.subscriptions import OVERDUE, subscription_apply
from tenants.audit.services import audit_record
from tenants.models import Tenant

logger = logging.getLogger("rapport.billing")


@dataclass(frozen=True)
class Reconciliation:
    checked: int
    repaired: int
    failed: int


def _state(account: BillingAccount, tenant: Tenant) -> dict[str, Any]:
    return {
        "plan": tenant.plan,
        "seats": tenant.seat_limit,
        "status": tenant.billing_status,
        "subscription": account.stripe_subscription_id,
        "stripe_status": account.subscription_status,
        "cancel_at_period_end": account.cancel_at_period_end,
    }


def _subscription_at_stripe(account: BillingAccount) -> dict[str, Any] | None:
    """The subscription Stripe holds for the workspace: the one we know, else the customer's
    newest one (a subscription whose webhooks were all lost)."""
    if account.stripe_subscription_id:
        return stripe_api.subscription_retrieve(account.stripe_subscription_id)
    found = stripe_api.subscriptions_of_customer(customer=account.stripe_customer_id)
    return max(found, key=lambda sub: int(sub.get("created") or 0)) if found else None


def account_reconcile(*, account_id: int) -> bool:
    """Compare one workspace with Stripe and repair it. True when something was repaired.
    Raises StripeUnavailable when Stripe cannot answer (nothing changes then)."""
    account = BillingAccount.objects.select_related("tenant").get(pk=account_id)
    # Stripe's answer includes every event created before this second.
    read_at = int(time.time())
    subscription = _subscription_at_stripe(account)
    if subscription is None or subscription.get("customer") != account.stripe_customer_id:
        return False
    with transaction.atomic():
        locked = BillingAccount.objects.select_for_update().get(pk=account_id)
        tenant = Tenant.objects.select_for_update().get(pk=locked.tenant_id)
        before = _state(locked, tenant)
        # Stripe's status already reflects every payment before ``read_at``: recorded as the
        # newest payment news, so an older invoice event delivered late cannot undo the repair.
        BillingAccount.objects.filter(pk=account_id, payment_version__lt=read_at).update(
            payment_version=read_at,
            last_payment_failed=subscription.get("status") in OVERDUE,
        )
        subscription_apply(
            customer=locked.stripe_customer_id,
            subscription=subscription,
            version=max(read_at, locked.subscription_version),
            source="reconcile",
            deleted=subscription.get("status") == "canceled",
        )
        locked.refresh_from_db()
        tenant.refresh_from_db()
        after = _state(locked, tenant)
        drift = {
            key: {"ours": before[key], "stripe": after[key]}
            for key in before
            if before[key] != after[key]
        }
        if not drift:
            return False
        audit_record(tenant=tenant, actor=None, action=DRIFT_REPAIRED, data=drift)
    logger.warning("billing drift repaired for workspace %s: %s", tenant.pk, drift)
    return True


def reconcile_all(*, tenant_ids: list[int] | None = None) -> Reconciliation:
    """Every workspace with a Stripe customer (or the ones named). A workspace Stripe cannot
    answer for is left as it is and counted as failed; the others go on."""
    accounts = BillingAccount.objects.order_by("pk")
    if tenant_ids is not None:
        accounts = accounts.filter(tenant_id__in=tenant_ids)
    checked = repaired = failed = 0
    for account_id in accounts.values_list("pk", flat=True):
        checked += 1
        try:
            repaired += account_reconcile(account_id=account_id)
        except stripe_api.StripeUnavailable as error:
            failed += 1
            logger.warning("billing account %s not reconciled: %s", account_id, error)
    return Reconciliation(checked=checked, repaired=repaired, failed=failed)
