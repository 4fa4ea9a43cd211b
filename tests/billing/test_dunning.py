"""A renewal whose charge fails, on the local Stripe stand-in: the workspace falls past due
(a banner and emails for those with billing rights), becomes read-only after the grace
period, and is restored as soon as the invoice is paid. Events are applied by a Celery task,
exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from billing import webhooks
from billing.models import BillingAccount, StripeEvent
from tenants.models import Plan, Tenant
from tenants.roles import Role
from tests.billing.conftest import LocalStripe, subscribe
from tests.conftest import Workspace, workspace_client

DECLINING_CARD = "4000000000000341"  # attaches, but every charge is declined


@pytest.fixture
def paying(alpha: Workspace, synced_plans: LocalStripe) -> Workspace:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        plan=Plan.TRIAL, seat_limit=10, billing_status=Tenant.BillingStatus.TRIAL_EXPIRED
    )
    alpha.tenant.refresh_from_db()
    subscribe(alpha, synced_plans)
    mail.outbox.clear()
    return alpha


def _status(workspace: Workspace) -> str:
    return Tenant.objects.get(pk=workspace.tenant.pk).billing_status


def _fail_renewal(stand_in: LocalStripe, workspace: Workspace) -> BillingAccount:
    account = BillingAccount.objects.get(tenant=workspace.tenant)
    stand_in.post(f"/_config/customers/{account.stripe_customer_id}/card", {"card": DECLINING_CARD})
    stand_in.post(f"/_config/subscriptions/{account.stripe_subscription_id}/renew", {})
    return account


def test_a_failed_renewal_then_the_grace_period_then_payment(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    account = _fail_renewal(synced_plans, paying)

    delivered = synced_plans.deliver()

    assert "invoice.payment_failed" in delivered
    assert _status(paying) == Tenant.BillingStatus.PAST_DUE
    assert Tenant.objects.get(pk=paying.tenant.pk).is_read_only is False
    managers = sorted([paying.owner.user.email, paying.members[Role.ADMIN].user.email])
    assert sorted(address for message in mail.outbox for address in message.to) == managers
    assert mail.outbox[0].subject == "Payment for Alpha Inc on Rapport failed"
    assert "within 7 days" in mail.outbox[0].body
    assert "http://alpha.localhost/billing/" in mail.outbox[0].body

    owner_home = workspace_client(paying.owner.user, paying.tenant).get("/").content.decode()
    assert 'data-testid="past-due-banner"' in owner_home
    rep = paying.members[Role.SALES_REP].user
    rep_home = workspace_client(rep, paying.tenant).get("/").content.decode()
    assert 'data-testid="past-due-banner"' not in rep_home  # billing rights only

    account.refresh_from_db()
    assert account.past_due_since is not None
    assert webhooks.dunning_sweep(now=account.past_due_since + timedelta(days=6)) == 0
    assert _status(paying) == Tenant.BillingStatus.PAST_DUE
    assert webhooks.dunning_sweep(now=account.past_due_since + timedelta(days=7, minutes=1)) == 1
    tenant = Tenant.objects.get(pk=paying.tenant.pk)
    assert (tenant.billing_status, tenant.is_read_only) == (Tenant.BillingStatus.UNPAID, True)
    refused = workspace_client(rep, paying.tenant).post("/settings/", {"name": "Changed"})
    assert refused.status_code == 403
    rep_home = workspace_client(rep, paying.tenant).get("/").content.decode()
    assert 'data-testid="unpaid-banner"' in rep_home

    # The customer pays the open invoice with another card: the workspace is restored at once.
    synced_plans.post(
        f"/_config/customers/{account.stripe_customer_id}/card", {"card": "4242424242424242"}
    )
    open_invoices = [
        invoice
        for invoice in synced_plans.get("/v1/invoices", customer=account.stripe_customer_id)["data"]
        if invoice["status"] == "open"
    ]
    assert len(open_invoices) == 1
    synced_plans.post(f"/v1/invoices/{open_invoices[0]['id']}/pay", {})
    assert "invoice.paid" in synced_plans.deliver()

    tenant = Tenant.objects.get(pk=paying.tenant.pk)
    assert (tenant.billing_status, tenant.is_read_only) == (Tenant.BillingStatus.ACTIVE, False)
    account.refresh_from_db()
    assert account.past_due_since is None


def test_the_grace_period_is_configurable(
    paying: Workspace, synced_plans: LocalStripe, settings: Any
) -> None:
    settings.BILLING_GRACE_DAYS = 2
    account = _fail_renewal(synced_plans, paying)
    synced_plans.deliver()
    account.refresh_from_db()
    assert account.past_due_since is not None

    assert webhooks.dunning_sweep(now=account.past_due_since + timedelta(days=2, minutes=1)) == 1
    assert _status(paying) == Tenant.BillingStatus.UNPAID


def test_an_event_is_applied_once_however_often_its_task_runs(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    _fail_renewal(synced_plans, paying)
    failed = synced_plans.pending("invoice.payment_failed")[0]
    from tests.billing.conftest import post_event

    assert post_event(failed) == 200
    stored = StripeEvent.objects.get(pk=failed["id"])
    assert stored.processed_at is not None
    mail.outbox.clear()

    assert webhooks.stripe_event_process(event_id=failed["id"]) is False
    assert post_event(failed) == 200  # delivered again
    assert StripeEvent.objects.filter(pk=failed["id"]).count() == 1
    assert mail.outbox == []  # no second email


def test_an_event_whose_task_was_lost_is_applied_by_the_sweep(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    _fail_renewal(synced_plans, paying)
    failed = synced_plans.pending("invoice.payment_failed")[0]
    StripeEvent.objects.create(
        event_id=failed["id"],
        type=failed["type"],
        created=failed["created"],
        payload=failed,
        received_at=timezone.now() - timedelta(minutes=10),
    )  # stored, but its task never ran

    from billing.tasks import stripe_events_sweep

    assert stripe_events_sweep.delay().get() == 1
    assert _status(paying) == Tenant.BillingStatus.PAST_DUE
    assert stripe_events_sweep.delay().get() == 0
