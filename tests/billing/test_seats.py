"""Seats billed on a paying workspace: invitations, acceptances, deactivations and
reactivations change the subscription's quantity at Stripe (prorated), and the seat limit
follows what is paid; the plan's cap is the ceiling."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from billing.models import BillingAccount
from billing.plans import Limit, plan_spec
from billing.tasks import bill_seats
from crm_platform.errors import ServiceError
from tenants import services
from tenants.models import Plan, Tenant
from tenants.roles import Role
from tests.billing.conftest import LocalStripe, subscribe
from tests.conftest import Workspace


@pytest.fixture
def paying(alpha: Workspace, synced_plans: LocalStripe) -> Workspace:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        plan=Plan.TRIAL, seat_limit=10, billing_status=Tenant.BillingStatus.TRIAL_EXPIRED
    )
    alpha.tenant.refresh_from_db()
    subscribe(alpha, synced_plans)
    alpha.tenant.refresh_from_db()
    alpha.owner.tenant = alpha.tenant
    assert (alpha.tenant.billing_status, alpha.tenant.seat_limit) == ("active", 7)
    return alpha


def _billed(stand_in: LocalStripe, workspace: Workspace) -> int:
    account = BillingAccount.objects.get(tenant=workspace.tenant)
    subscription = stand_in.get(f"/v1/subscriptions/{account.stripe_subscription_id}")
    return int(subscription["items"]["data"][0]["quantity"])


def _seat_limit(workspace: Workspace) -> int:
    return Tenant.objects.get(pk=workspace.tenant.pk).seat_limit


def test_an_invitation_beyond_the_paid_seats_is_billed_pro_rata(
    paying: Workspace, synced_plans: LocalStripe, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            actor=paying.owner, email="newcomer@alpha.example.com", role=Role.SALES_REP
        )

    assert _billed(synced_plans, paying) == 8
    assert _seat_limit(paying) == 8
    account = BillingAccount.objects.get(tenant=paying.tenant)
    items = synced_plans.get("/v1/invoiceitems", customer=account.stripe_customer_id)["data"]
    assert any(item["proration"] for item in items)  # the unused time of the old quantity
    assert "customer.subscription.updated" in synced_plans.deliver()
    assert _seat_limit(paying) == 8


def test_deactivating_frees_a_seat_and_reactivating_takes_it_again(
    paying: Workspace, synced_plans: LocalStripe, django_capture_on_commit_callbacks: Any
) -> None:
    marketer = paying.members[Role.MARKETER]
    with django_capture_on_commit_callbacks(execute=True):
        services.member_deactivate(actor=paying.owner, member=marketer)
    assert (_billed(synced_plans, paying), _seat_limit(paying)) == (6, 6)

    with django_capture_on_commit_callbacks(execute=True):
        services.member_reactivate(actor=paying.owner, member=marketer)
    assert (_billed(synced_plans, paying), _seat_limit(paying)) == (7, 7)


def test_revoking_an_invitation_frees_its_seat(
    paying: Workspace, synced_plans: LocalStripe, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            actor=paying.owner, email="maybe@alpha.example.com", role=Role.SALES_REP
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_revoke(actor=paying.owner, invitation=invitation)

    assert (_billed(synced_plans, paying), _seat_limit(paying)) == (7, 7)


def test_the_plan_cap_refuses_a_seat_with_the_reason(
    paying: Workspace, synced_plans: LocalStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(plan_spec(Plan.PROFESSIONAL).limits, Limit.SEATS, 7)

    with pytest.raises(ServiceError, match="All 7 seats of your plan are in use"):
        services.invitation_create(
            actor=paying.owner, email="one-too-many@alpha.example.com", role=Role.SALES_REP
        )
    assert _billed(synced_plans, paying) == 7


def test_a_trial_is_held_to_its_seat_limit(alpha: Workspace) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=Plan.TRIAL, seat_limit=7)
    alpha.owner.tenant.refresh_from_db()

    with pytest.raises(ServiceError, match="All 7 seats"):
        services.invitation_create(
            actor=alpha.owner, email="eighth@alpha.example.com", role=Role.SALES_REP
        )


def test_stripe_down_leaves_the_seats_as_paid_until_a_retry_succeeds(
    paying: Workspace,
    synced_plans: LocalStripe,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bill_seats, "max_retries", 1)
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            actor=paying.owner, email="later@alpha.example.com", role=Role.SALES_REP
        )
    # The invitation stands; the seats billed and the seat limit have not moved.
    assert _seat_limit(paying) == 7
    settings.STRIPE_API_BASE = base
    assert _billed(synced_plans, paying) == 7

    assert bill_seats.delay(paying.tenant.pk).get() == 8  # the retry, once Stripe answers

    assert (_billed(synced_plans, paying), _seat_limit(paying)) == (8, 8)


def test_the_members_page_invites_beyond_the_paid_seats(
    paying: Workspace, synced_plans: LocalStripe, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.conftest import workspace_client

    client: Client = workspace_client(paying.owner.user, paying.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/members/invite/", {"email": "via-page@alpha.example.com", "role": Role.SALES_REP}
        )

    assert response.status_code in (200, 302)
    assert _billed(synced_plans, paying) == 8


def test_a_burst_of_invitations_makes_one_quantity_update(
    paying: Workspace, synced_plans: LocalStripe, django_capture_on_commit_callbacks: Any
) -> None:
    """Each change queues the billing task with a delay; when the tasks run, the first bills
    the seats in use then, and the others find nothing left to change."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for number in range(3):
            services.invitation_create(
                actor=paying.owner, email=f"burst{number}@alpha.example.com", role=Role.SALES_REP
            )

    for callback in callbacks:  # the delay is over: the queued tasks run
        callback()

    assert _billed(synced_plans, paying) == 10
    updates = synced_plans.pending("customer.subscription.updated")
    assert [update["data"]["object"]["items"]["data"][0]["quantity"] for update in updates] == [10]
    assert _seat_limit(paying) == 10
