"""A workspace on trial subscribes in a real browser on a 375 px touch screen: Checkout on the
local Stripe stand-in's page, back to the billing page, a tax ID added in Stripe's customer
portal, an invitation beyond the paid seats billed, more seats bought after Stripe's
(prorated) preview, the subscription cancelled at the period's end and resumed, a failed
renewal making the workspace past due with its banner, and paying restoring it at once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from billing.models import BillingAccount, StripeEvent
from billing.revenue_rollup import revenue_rebuild
from tenants.models import Invitation, Plan, Tenant
from tests.billing.conftest import (  # noqa: F401 (the stand-in's fixtures)
    LocalStripe,
    local_stripe,
    local_stripe_server,
    sign,
    synced_plans,
)
from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page

# Stripe calls of the server under test go to the stand-in, with the plans synced there.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("synced_plans")]

TENANT_FIELDS = ("plan", "seat_limit", "billing_status", "trial_ends_at")
NEWCOMER = "newcomer.e2e@alpha.example.com"
DECLINING_CARD = "4000000000000341"  # attaches, but every charge is declined


def _start_trial(world: World) -> tuple[dict[str, Any], int]:
    tenant = Tenant.objects.get(pk=world.alpha.tenant.pk)
    saved: dict[str, Any] = {name: getattr(tenant, name) for name in TENANT_FIELDS}
    Tenant.objects.filter(pk=tenant.pk).update(
        plan=Plan.TRIAL, seat_limit=10, billing_status=Tenant.BillingStatus.TRIALING
    )
    from tenants.audit.models import AuditEvent

    with schema_context(world.alpha.tenant.schema_name):
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return saved, last or 0


def _clean_up(world: World, saved: dict[str, Any], last_event: int) -> None:
    from tenants.audit.models import AuditEvent

    customer = (
        BillingAccount.objects.filter(tenant_id=world.alpha.tenant.pk)
        .values_list("stripe_customer_id", flat=True)
        .first()
    )
    if customer:
        StripeEvent.objects.filter(payload__data__object__customer=customer).delete()
        revenue_rebuild()
    Invitation.objects.filter(tenant_id=world.alpha.tenant.pk, email=NEWCOMER).delete()
    BillingAccount.objects.filter(tenant_id=world.alpha.tenant.pk).delete()
    Tenant.objects.filter(pk=world.alpha.tenant.pk).update(**saved)
    with schema_context(world.alpha.tenant.schema_name):
        # Everything the test audited: billing's events and the invitation it sent.
        AuditEvent.objects.filter(id__gt=last_event).delete()


@pytest.fixture
def on_trial(world: World, live_site: LiveSite) -> Iterator[World]:
    saved, last_event = orm(_start_trial, world)
    yield world
    orm(_clean_up, world, saved, last_event)


def _paid(world: World) -> tuple[str, int, bool]:
    tenant = Tenant.objects.get(pk=world.alpha.tenant.pk)
    account = BillingAccount.objects.get(tenant=tenant)
    return tenant.plan, tenant.seat_limit, account.cancel_at_period_end


def test_trial_checkout_invite_seats_cancel_resume_past_due_and_paid_on_a_phone(
    on_trial: World,
    live_site: LiveSite,
    browser: Browser,
    synced_plans: LocalStripe,  # noqa: F811
) -> None:
    world = on_trial
    stand_in = synced_plans
    page = phone_page(browser, world.alpha.owner)
    page.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}/billing/?currency=EUR")
    expect(page.get_by_test_id("trial-days-left")).to_be_visible()
    capture(page, "billing-trial")

    # Subscribe: off to Checkout on the stand-in's page, paid with a test card, and back.
    page.get_by_test_id("subscribe-professional").get_by_role("button").tap()
    page.get_by_test_id("checkout-pay").tap()
    expect(page.get_by_text("Thank you: your subscription is in place.")).to_be_visible()
    expect(page.get_by_test_id("current-plan")).to_have_text("Professional")
    assert orm(_paid, world) == (Plan.PROFESSIONAL, 7, False)
    capture(page, "billing-subscribed")

    # The payer's details, changed in Stripe's customer portal and shown back here.
    page.get_by_test_id("open-portal").get_by_role("button").tap()
    page.get_by_label("Number", exact=True).fill("DE123456789")
    page.get_by_role("button", name="Add tax ID").tap()
    page.get_by_test_id("portal-return").tap()
    expect(page.get_by_test_id("billing-tax-ids")).to_have_text("DE123456789")
    expect(page.get_by_test_id("billing-card")).to_have_text("Visa ending in 4242")

    # An invitation beyond the 7 paid seats: the page says so, and the seat is billed.
    page.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}/members/")
    expect(page.get_by_test_id("seats-offer")).to_contain_text("All 7 paid seats are in use")
    invite_form = page.locator("form[action='/members/invite/']")
    invite_form.get_by_label("Email").fill(NEWCOMER)
    invite_form.get_by_label("Role").select_option("sales_rep")
    invite_form.get_by_role("button", name="Send invitation").tap()
    expect(page.get_by_test_id("invitations")).to_contain_text(NEWCOMER)
    assert orm(_paid, world) == (Plan.PROFESSIONAL, 8, False)
    page.get_by_test_id("seats-offer").get_by_role("link", name="Buy more seats").tap()

    # More seats, after Stripe's preview of the next invoice.
    page.get_by_label("Seats paid for").fill("9")
    page.get_by_test_id("change-seats").get_by_role("button").tap()
    expect(page.get_by_test_id("change-preview")).to_contain_text("9 seats")
    # Prorated to the second as Stripe does, shortly after the period began: 7 seats' unused
    # time credited, 9 seats charged for it, then the next period of 9 seats (405.00).
    expect(page.get_by_test_id("preview-proration")).to_have_text(re.compile(r"(89|90)\.\d\d EUR"))
    expect(page.get_by_test_id("preview-total")).to_have_text(
        re.compile(r"4(9[0-5]|8\d)\.\d\d EUR")
    )
    capture(page, "billing-seats-preview")
    assert orm(_paid, world) == (Plan.PROFESSIONAL, 8, False)  # nothing before confirming
    page.get_by_test_id("confirm-change").get_by_role("button", name="Confirm the change").tap()
    expect(page.get_by_text("The workspace now pays for 9 seats.")).to_be_visible()
    assert orm(_paid, world) == (Plan.PROFESSIONAL, 9, False)

    # Cancel at the period's end (confirmed in the dialog), then resume.
    page.get_by_test_id("cancel-subscription").get_by_role("button").first.tap()
    dialog = page.locator("dialog#cancel-subscription")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel at the period's end").tap()
    expect(page.get_by_test_id("subscription-ends")).to_be_visible()
    assert orm(_paid, world) == (Plan.PROFESSIONAL, 9, True)
    capture(page, "billing-canceling")
    page.get_by_test_id("resume").get_by_role("button").tap()
    expect(page.get_by_text("The subscription will renew as before.")).to_be_visible()
    assert orm(_paid, world) == (Plan.PROFESSIONAL, 9, False)

    # The renewal's payment fails: the webhook makes the workspace past due, with a banner.
    account = orm(BillingAccount.objects.get, tenant_id=world.alpha.tenant.pk)
    stand_in.post(f"/_config/customers/{account.stripe_customer_id}/card", {"card": DECLINING_CARD})
    stand_in.post(f"/_config/subscriptions/{account.stripe_subscription_id}/renew", {})
    assert "invoice.payment_failed" in _deliver(stand_in, live_site)
    page.reload()
    expect(page.get_by_test_id("past-due-banner")).to_be_visible()
    assert orm(_status, world) == Tenant.BillingStatus.PAST_DUE
    capture(page, "billing-past-due")

    # Paying the open invoice with another card restores the workspace at once.
    stand_in.post(
        f"/_config/customers/{account.stripe_customer_id}/card", {"card": "4242424242424242"}
    )
    invoices = stand_in.get("/v1/invoices", customer=account.stripe_customer_id)["data"]
    (due,) = [invoice for invoice in invoices if invoice["status"] == "open"]
    stand_in.post(f"/v1/invoices/{due['id']}/pay", {})
    assert "invoice.paid" in _deliver(stand_in, live_site)
    page.reload()
    expect(page.get_by_test_id("current-plan")).to_have_text("Professional")
    expect(page.get_by_test_id("past-due-banner")).to_have_count(0)
    assert orm(_status, world) == Tenant.BillingStatus.ACTIVE
    page.context.close()


def _status(world: World) -> str:
    return str(Tenant.objects.get(pk=world.alpha.tenant.pk).billing_status)


def _deliver(stand_in: LocalStripe, live_site: LiveSite) -> list[str]:
    """The stand-in's new events POSTed to the server under test, signed as Stripe does."""
    sent = []
    for event in stand_in.pending():
        body = json.dumps(event)
        response = requests.post(
            f"{live_site.public}/stripe/webhook/",
            data=body.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(body)},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        stand_in.delivered.add(event["id"])
        sent.append(event["type"])
    return sent
