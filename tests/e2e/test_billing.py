"""A workspace on trial subscribes in a real browser on a 375 px touch screen: Checkout on the
local Stripe stand-in's page, back to the billing page, a tax ID added in Stripe's customer
portal, more seats bought after Stripe's preview, the subscription cancelled at the period's
end and resumed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from billing.models import BillingAccount
from tenants.models import Membership, Plan, Tenant, UserSession
from tests.billing.conftest import (  # noqa: F401 (the stand-in's fixtures)
    local_stripe,
    local_stripe_server,
    synced_plans,
)
from tests.conftest import World, workspace_client
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm

# Stripe calls of the server under test go to the stand-in, with the plans synced there.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("synced_plans")]

TENANT_FIELDS = ("plan", "seat_limit", "billing_status", "trial_ends_at")


def _session_key(membership: Membership) -> str:
    client = workspace_client(membership.user, membership.tenant)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def _start_trial(world: World) -> dict[str, Any]:
    tenant = Tenant.objects.get(pk=world.alpha.tenant.pk)
    saved = {name: getattr(tenant, name) for name in TENANT_FIELDS}
    Tenant.objects.filter(pk=tenant.pk).update(
        plan=Plan.TRIAL, seat_limit=10, billing_status=Tenant.BillingStatus.TRIALING
    )
    return saved


def _clean_up(world: World, saved: dict[str, Any], sessions: set[str], last_seen: Any) -> None:
    from tenants.audit.models import AuditEvent

    BillingAccount.objects.filter(tenant_id=world.alpha.tenant.pk).delete()
    Tenant.objects.filter(pk=world.alpha.tenant.pk).update(**saved)
    with schema_context(world.alpha.tenant.schema_name):
        AuditEvent.objects.filter(action__startswith="billing.").delete()
    UserSession.objects.exclude(session_key__in=sessions).delete()
    Membership.objects.filter(pk=world.alpha.owner.pk).update(last_seen_at=last_seen)


@pytest.fixture
def on_trial(world: World, live_site: LiveSite) -> Iterator[World]:
    sessions = orm(lambda: set(UserSession.objects.values_list("session_key", flat=True)))
    last_seen = orm(
        lambda: Membership.objects.values_list("last_seen_at", flat=True).get(
            pk=world.alpha.owner.pk
        )
    )
    saved = orm(_start_trial, world)
    yield world
    orm(_clean_up, world, saved, sessions, last_seen)


def _paid(world: World) -> tuple[str, int, bool]:
    tenant = Tenant.objects.get(pk=world.alpha.tenant.pk)
    account = BillingAccount.objects.get(tenant=tenant)
    return tenant.plan, tenant.seat_limit, account.cancel_at_period_end


def test_trial_to_checkout_to_more_seats_to_cancel_and_resume_on_a_phone(
    on_trial: World, live_site: LiveSite, browser: Browser
) -> None:
    world = on_trial
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(15_000)
    host = f"{world.alpha.tenant.slug}.localhost"
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(_session_key, world.alpha.owner),
        "domain": host,
        "path": "/",
    }
    context.add_cookies([cookie])
    page = context.new_page()
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

    # More seats, after Stripe's preview of the next invoice.
    page.get_by_label("Seats paid for").fill("9")
    page.get_by_test_id("change-seats").get_by_role("button").tap()
    expect(page.get_by_test_id("change-preview")).to_contain_text("9 seats")
    expect(page.get_by_test_id("preview-total")).to_contain_text("90.00 EUR")
    capture(page, "billing-seats-preview")
    assert orm(_paid, world) == (Plan.PROFESSIONAL, 7, False)  # nothing before confirming
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
    context.close()
