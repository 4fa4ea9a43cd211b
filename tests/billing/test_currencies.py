"""One Stripe Price per plan and interval sells in every currency (its ``currency_options``,
ADR 0084): a workspace is billed in the currency it chose at Checkout — its subscription,
invoices, prorations, previews and planned changes — and a currency that cannot be sold is
refused with nothing created, here or at Stripe. (The revenue figures reading both shapes of
price: tests/billing/test_revenue.py.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from billing import changes, stripe_api
from billing.models import BillingAccount
from tests.billing.conftest import LocalStripe, subscribe
from tests.conftest import Workspace, workspace_client


def _paying(workspace: Workspace, stand_in: LocalStripe, currency: str) -> BillingAccount:
    subscribe(workspace, stand_in, currency=currency)
    workspace.tenant.refresh_from_db()
    workspace.owner.tenant = workspace.tenant
    return BillingAccount.objects.get(tenant=workspace.tenant)


def _currencies(invoice: dict[str, Any]) -> set[str]:
    return {invoice["currency"]} | {line["currency"] for line in invoice["lines"]["data"]}


@pytest.mark.parametrize(
    ("currency", "per_seat", "enterprise_per_seat"),
    [("EUR", 4500, 9100), ("USD", 4900, 9900)],
)
def test_checkout_in_a_currency_bills_everything_in_it(
    expired: Workspace,
    synced_plans: LocalStripe,
    currency: str,
    per_seat: int,
    enterprise_per_seat: int,
) -> None:
    account = _paying(expired, synced_plans, currency)

    code = currency.lower()
    assert account.currency == currency
    subscription = synced_plans.get(f"/v1/subscriptions/{account.stripe_subscription_id}")
    assert subscription["currency"] == code
    price = subscription["items"]["data"][0]["price"]
    # The one Price of the plan and interval, whatever the currency billed.
    assert (price["lookup_key"], price["currency"]) == ("rapport_professional_month", "usd")
    invoices = stripe_api.invoices_list(customer=account.stripe_customer_id)
    assert [(invoice["currency"], invoice["total"]) for invoice in invoices] == [
        (code, 7 * per_seat)
    ]
    assert _currencies(invoices[0]) == {code}

    seats = changes.seats_preview(actor=expired.owner, seats="9")

    assert (seats.next_invoice_total.currency, seats.proration.currency) == (currency, currency)
    # The next period at 9 seats, and the two seats added for what is left of this one.
    assert seats.next_invoice_total.amount == seats.proration.amount + Decimal(9 * per_seat) / 100
    assert Decimal(0) < seats.proration.amount <= Decimal(2 * per_seat) / 100
    raw = stripe_api.invoice_preview(
        customer=account.stripe_customer_id,
        subscription_id=account.stripe_subscription_id,
        quantity=9,
    )
    assert _currencies(raw) == {code}
    upgrade = changes.plan_preview(actor=expired.owner, plan="enterprise", interval="month")
    assert upgrade.next_invoice_total.currency == currency
    assert upgrade.next_invoice_total.amount == upgrade.proration.amount + (
        Decimal(7 * enterprise_per_seat) / 100
    )


def test_a_downgrade_at_the_period_end_renews_in_the_subscription_s_currency(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    account = _paying(expired, synced_plans, "EUR")

    assert changes.plan_change(actor=expired.owner, plan="starter", interval="month") == (
        "period_end"
    )
    account.refresh_from_db()
    schedule = synced_plans.get(f"/v1/subscription_schedules/{account.stripe_schedule_id}")
    assert [phase["currency"] for phase in schedule["phases"]] == ["eur", "eur"]
    synced_plans.post(f"/_config/subscriptions/{account.stripe_subscription_id}/renew", {})

    subscription = synced_plans.get(f"/v1/subscriptions/{account.stripe_subscription_id}")
    assert (subscription["currency"], subscription["items"]["data"][0]["price"]["lookup_key"]) == (
        "eur",
        "rapport_starter_month",
    )
    renewal = synced_plans.get(f"/v1/invoices/{subscription['latest_invoice']}")
    assert (renewal["currency"], renewal["total"]) == ("eur", 7 * 1400)
    assert _currencies(renewal) == {"eur"}


def _owner(workspace: Workspace) -> Client:
    return workspace_client(workspace.owner.user, workspace.tenant)


def test_a_currency_not_offered_is_refused_and_nothing_is_created(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    events_before = len(synced_plans.events())

    client = _owner(expired)

    response = client.post(
        "/billing/subscribe/", {"plan": "professional", "interval": "month", "currency": "GBP"}
    )

    assert response.status_code == 302
    assert "Choose one of the currencies offered." in client.get("/billing/").content.decode()
    assert not BillingAccount.objects.filter(tenant=expired.tenant).exists()
    assert len(synced_plans.events()) == events_before


def test_a_price_without_the_currency_is_a_clear_error_and_nothing_is_created(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    # A Price of before EUR was sold takes the lookup key: it has no amount in EUR.
    synced_plans.post(
        "/v1/prices",
        {
            "product": "rapport_professional",
            "currency": "usd",
            "unit_amount": "4900",
            "recurring[interval]": "month",
            "lookup_key": "rapport_professional_month",
            "transfer_lookup_key": "true",
        },
    )
    events_before = len(synced_plans.events())

    client = _owner(expired)

    client.post(
        "/billing/subscribe/", {"plan": "professional", "interval": "month", "currency": "EUR"}
    )

    page = client.get("/billing/").content.decode()
    assert "This plan cannot be bought in EUR at the moment." in page
    assert not BillingAccount.objects.filter(tenant=expired.tenant).exists()
    assert len(synced_plans.events()) == events_before
    # At Stripe, too, a Checkout in a currency the Price lacks is refused.
    customer = synced_plans.post("/v1/customers", {"name": "Alpha"})
    price = synced_plans.get("/v1/prices", lookup_keys=["rapport_professional_month"])["data"][0]
    refused = synced_plans.post_raw(
        "/v1/checkout/sessions",
        {
            "mode": "subscription",
            "customer": customer["id"],
            "currency": "eur",
            "line_items[0][price]": price["id"],
            "line_items[0][quantity]": "7",
            "success_url": "https://example.test/ok",
            "cancel_url": "https://example.test/back",
        },
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == f"The price {price['id']} has no amount in eur"


def test_the_stand_in_bills_a_subscription_created_with_a_currency_in_it(
    synced_plans: LocalStripe,
) -> None:
    customer = synced_plans.post("/v1/customers", {"name": "Direct"})["id"]
    synced_plans.post(f"/_config/customers/{customer}/card", {"card": "4242424242424242"})
    price = stripe_api.price_find("rapport_enterprise_year")
    assert price is not None

    refused = synced_plans.post_raw(
        "/v1/subscriptions",
        {"customer": customer, "currency": "gbp", "items[0][price]": price["id"]},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == f"The price {price['id']} has no amount in gbp"
    assert synced_plans.get("/v1/subscriptions", customer=customer, status="all")["data"] == []

    subscription = synced_plans.post(
        "/v1/subscriptions",
        {"customer": customer, "currency": "eur", "items[0][price]": price["id"]},
    )

    assert (subscription["currency"], subscription["status"]) == ("eur", "active")
    invoice = synced_plans.get(f"/v1/invoices/{subscription['latest_invoice']}")
    assert (invoice["currency"], invoice["total"]) == ("eur", 91000)  # 91.00 x 10 months
    mismatch = synced_plans.post_raw(
        "/v1/invoices/create_preview",
        {"customer": customer, "subscription": subscription["id"], "currency": "usd"},
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["message"] == "currency: the subscription is billed in eur"
    preview = synced_plans.post(
        "/v1/invoices/create_preview",
        {"customer": customer, "subscription": subscription["id"], "currency": "eur"},
    )
    assert (preview["currency"], preview["total"]) == ("eur", 91000)
