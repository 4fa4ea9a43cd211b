"""The payer's details: Stripe's customer portal opened from the billing page (here the local
stand-in's portal page), and the payment method, billing address and tax IDs shown on the
billing page as Stripe holds them."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.contrib.messages import get_messages

from billing.models import BillingAccount
from tenants.models import Plan, Tenant
from tenants.roles import Role
from tests.billing.conftest import LocalStripe, subscribe
from tests.conftest import Workspace, workspace_client


@pytest.fixture
def paying(alpha: Workspace, synced_plans: LocalStripe) -> Workspace:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        plan=Plan.TRIAL, seat_limit=10, billing_status=Tenant.BillingStatus.TRIAL_EXPIRED
    )
    alpha.tenant.refresh_from_db()
    subscribe(alpha, synced_plans)
    return alpha


def _said(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _portal_url(workspace: Workspace) -> str:
    response = workspace_client(workspace.owner.user, workspace.tenant).post("/billing/portal/")
    assert response.status_code == 302
    return str(response["Location"])


def test_the_payer_is_sent_to_the_customer_portal_of_their_own_customer(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    url = _portal_url(paying)

    assert url.startswith(f"{synced_plans.base}/portal/bps_")
    page = requests.get(url, timeout=10)
    account = BillingAccount.objects.get(tenant=paying.tenant)
    customer = synced_plans.get(f"/v1/customers/{account.stripe_customer_id}")
    assert customer["name"] in page.text
    # Back to the billing page of this workspace.
    assert f'href="http://{paying.tenant.slug}.' in page.text
    assert "/billing/" in page.text


def test_details_changed_in_the_portal_show_on_the_billing_page(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    url = _portal_url(paying)
    address = {"line1": "ул. Тверская, 7", "city": "Москва", "postal_code": "125009"}
    for path, data in (
        ("address", {**address, "country": "RU"}),
        ("tax_id", {"type": "eu_vat", "value": "DE123456789"}),
        ("tax_id", {"type": "eu_vat", "value": "FR111111111XX"}),
        ("card", {"card": "5555555555554444"}),
    ):
        response = requests.post(f"{url}/{path}", data=data, timeout=10, allow_redirects=False)
        assert response.status_code == 303, response.text

    body = workspace_client(paying.owner.user, paying.tenant).get("/billing/").content.decode()

    assert "ending in 4444" in body
    assert "ул. Тверская, 7" in body
    assert "Москва" in body
    assert "DE123456789" in body
    assert "FR111111111XX (not verified)" in body


def test_a_card_and_no_address_show_what_stripe_has(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    body = workspace_client(paying.owner.user, paying.tenant).get("/billing/").content.decode()

    assert "Visa ending in 4242" in body  # the card paid with in Checkout
    assert body.count("None yet") == 2  # no address, no tax ID
    assert 'data-testid="open-portal"' in body


def test_without_a_stripe_customer_there_is_no_portal(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.post("/billing/portal/")

    assert response.status_code == 302
    assert response["Location"] == "/billing/"
    assert _said(response) == [
        "The payment details are kept by Stripe once the workspace subscribes."
    ]
    assert 'data-testid="billing-details"' not in client.get("/billing/").content.decode()


def test_stripe_down_says_so_and_sends_nobody_away(
    paying: Workspace, synced_plans: LocalStripe, settings: Any
) -> None:
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    client = workspace_client(paying.owner.user, paying.tenant)

    response = client.post("/billing/portal/")

    assert response["Location"] == "/billing/"
    assert _said(response) == [
        "Stripe could not be reached, so nothing was changed or charged. Try again shortly."
    ]
    page = client.get("/billing/").content.decode()
    assert "The billing details cannot be shown right now" in page


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES_REP, Role.READ_ONLY])
def test_members_without_the_billing_capability_get_no_portal(
    paying: Workspace, synced_plans: LocalStripe, role: str
) -> None:
    client = workspace_client(paying.members[role].user, paying.tenant)

    assert client.post("/billing/portal/").status_code == 403
    assert client.get("/billing/").status_code == 403


@pytest.mark.parametrize("role", [Role.MANAGER, Role.READ_ONLY])
def test_members_without_billing_rights_are_told_who_can_help(alpha: Workspace, role: str) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)

    for response in (client.get("/billing/"), client.post("/billing/seats/", {"seats": "9"})):
        body = response.content.decode()
        assert response.status_code == 403
        assert "Billing is for owners and admins" in body
        assert "Ask one of them if the workspace needs a plan" in body
    # Elsewhere the general message stays.
    other = client.post("/members/invite/", {"email": "x@example.com", "role": "sales_rep"})
    assert other.status_code == 403
    assert "Billing is for owners and admins" not in other.content.decode()
