"""Reconciliation: what we recorded of each subscription compared with Stripe (the local
stand-in) and repaired where a webhook was lost, each repair an audit row."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from django_tenants.utils import schema_context

from billing.models import BillingAccount, StripeEvent
from billing.tasks import reconcile_subscriptions
from tenants.audit.models import AuditEvent
from tenants.models import Plan, Tenant
from tests.billing.conftest import SECRET_KEY, LocalStripe, post_event, subscribe
from tests.conftest import Workspace


@pytest.fixture
def paying(alpha: Workspace, synced_plans: LocalStripe) -> Workspace:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        plan=Plan.TRIAL, seat_limit=10, billing_status=Tenant.BillingStatus.TRIAL_EXPIRED
    )
    alpha.tenant.refresh_from_db()
    subscribe(alpha, synced_plans)
    return alpha


def _repairs(workspace: Workspace) -> list[dict[str, Any]]:
    with schema_context(workspace.tenant.schema_name):
        return list(
            AuditEvent.objects.filter(action="billing.drift_repaired")
            .order_by("id")
            .values_list("data", flat=True)
        )


def _state(workspace: Workspace) -> tuple[str, int, str]:
    tenant = Tenant.objects.get(pk=workspace.tenant.pk)
    return tenant.plan, tenant.seat_limit, tenant.billing_status


def test_nothing_differs_nothing_is_repaired(paying: Workspace, synced_plans: LocalStripe) -> None:
    assert reconcile_subscriptions.delay().get() == {"checked": 1, "repaired": 0, "failed": 0}
    assert _repairs(paying) == []
    assert _state(paying) == (Plan.PROFESSIONAL, 7, "active")


def test_lost_seat_and_status_changes_are_repaired_and_audited(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    Tenant.objects.filter(pk=paying.tenant.pk).update(
        seat_limit=3, billing_status=Tenant.BillingStatus.UNPAID
    )

    assert reconcile_subscriptions.delay().get() == {"checked": 1, "repaired": 1, "failed": 0}

    assert _state(paying) == (Plan.PROFESSIONAL, 7, "active")
    assert _repairs(paying) == [
        {"seats": {"ours": 3, "stripe": 7}, "status": {"ours": "unpaid", "stripe": "active"}}
    ]


def test_a_plan_changed_at_stripe_is_followed(paying: Workspace, synced_plans: LocalStripe) -> None:
    account = BillingAccount.objects.get(tenant=paying.tenant)
    price = synced_plans.get("/v1/prices", lookup_keys=["rapport_enterprise_month"])["data"][0]
    subscription = synced_plans.get(f"/v1/subscriptions/{account.stripe_subscription_id}")
    synced_plans.post(
        f"/v1/subscriptions/{account.stripe_subscription_id}",
        {
            "items[0][id]": subscription["items"]["data"][0]["id"],
            "items[0][price]": price["id"],
            "items[0][quantity]": "7",
        },
    )  # its webhook is never delivered

    reconcile_subscriptions.delay().get()

    assert _state(paying) == (Plan.ENTERPRISE, 7, "active")
    assert _repairs(paying) == [{"plan": {"ours": "professional", "stripe": "enterprise"}}]


def test_a_subscription_ended_at_stripe_ends_here(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    account = BillingAccount.objects.get(tenant=paying.tenant)
    requests.delete(
        f"{synced_plans.base}/v1/subscriptions/{account.stripe_subscription_id}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    ).raise_for_status()

    reconcile_subscriptions.delay().get()

    assert _state(paying)[2] == "canceled"
    account.refresh_from_db()
    assert account.ended_at is not None
    assert _repairs(paying)[0]["status"] == {"ours": "active", "stripe": "canceled"}


def test_a_subscription_whose_webhooks_were_all_lost_is_found(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    account = BillingAccount.objects.get(tenant=paying.tenant)
    known = account.stripe_subscription_id
    BillingAccount.objects.filter(pk=account.pk).update(
        stripe_subscription_id="", subscription_status="", subscription_version=0
    )
    Tenant.objects.filter(pk=paying.tenant.pk).update(
        plan=Plan.TRIAL, billing_status=Tenant.BillingStatus.TRIAL_EXPIRED
    )

    reconcile_subscriptions.delay().get()

    account.refresh_from_db()
    assert account.stripe_subscription_id == known
    assert _state(paying) == (Plan.PROFESSIONAL, 7, "active")


def test_stripe_down_leaves_everything_as_it_is(
    paying: Workspace, synced_plans: LocalStripe, settings: Any
) -> None:
    Tenant.objects.filter(pk=paying.tenant.pk).update(seat_limit=3)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    assert reconcile_subscriptions.delay().get() == {"checked": 1, "repaired": 0, "failed": 1}

    assert _state(paying) == (Plan.PROFESSIONAL, 3, "active")
    assert _repairs(paying) == []


def test_a_workspace_without_a_stripe_customer_is_not_checked(alpha: Workspace) -> None:
    assert reconcile_subscriptions.delay().get() == {"checked": 0, "repaired": 0, "failed": 0}


def test_an_older_payment_failure_delivered_after_a_repair_does_not_undo_it(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    """The repair read Stripe's state, which already reflects every payment made before it:
    a failure event from before then, delivered late, leaves the workspace active."""
    account = BillingAccount.objects.get(tenant=paying.tenant)
    # The payment's webhooks were lost: nothing recorded of it.
    BillingAccount.objects.filter(pk=account.pk).update(payment_version=0)
    Tenant.objects.filter(pk=paying.tenant.pk).update(billing_status=Tenant.BillingStatus.UNPAID)
    before = int(time.time()) - 60

    reconcile_subscriptions.delay().get()

    account.refresh_from_db()
    assert account.payment_version >= before + 60
    assert _state(paying)[2] == "active"
    late = {
        "id": "evt_reconcile_late_failure",
        "object": "event",
        "type": "invoice.payment_failed",
        "created": before,
        "data": {
            "object": {
                "object": "invoice",
                "id": "in_reconcile_late",
                "customer": account.stripe_customer_id,
                "amount_due": 4500,
                "currency": "eur",
            }
        },
    }
    assert post_event(late) == 200

    assert StripeEvent.objects.get(pk=late["id"]).processed_at is not None
    assert _state(paying)[2] == "active"


def test_a_payment_failure_after_the_repair_still_counts(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    account = BillingAccount.objects.get(tenant=paying.tenant)
    reconcile_subscriptions.delay().get()
    newer = {
        "id": "evt_reconcile_newer_failure",
        "object": "event",
        "type": "invoice.payment_failed",
        "created": int(time.time()) + 5,
        "data": {
            "object": {
                "object": "invoice",
                "id": "in_reconcile_newer",
                "customer": account.stripe_customer_id,
                "amount_due": 4500,
                "currency": "eur",
            }
        },
    }
    assert post_event(newer) == 200

    assert _state(paying)[2] == "past_due"
