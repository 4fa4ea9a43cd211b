"""The billing page lists the workspace's invoices from Stripe, with links to the hosted
invoice and its PDF; another workspace's invoices never show."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from billing.invoices import workspace_invoices
from billing.models import BillingAccount
from tenants.models import Plan, Tenant
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


def test_the_first_invoice_is_listed_with_its_links(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    page = workspace_client(paying.owner.user, paying.tenant).get(
        "/billing/", HTTP_ACCEPT_LANGUAGE="en-US"
    )

    body = page.content.decode()
    rows = page.context["invoices"]
    assert len(rows) == 1
    row = rows[0]["row"]
    assert row.status == "paid"
    assert rows[0]["total"] == "315.00 EUR"  # 7 seats x 45.00 EUR
    assert row.hosted_url.startswith(synced_plans.base + "/invoice/in_")
    assert f'href="{row.hosted_url}"' in body
    assert f'href="{row.pdf_url}"' in body
    assert requests.get(row.pdf_url, timeout=10).status_code == 200


def test_another_workspace_sees_only_its_own_invoices(
    paying: Workspace, bravo: Workspace, synced_plans: LocalStripe
) -> None:
    assert workspace_invoices(bravo.tenant) == []
    page = workspace_client(bravo.owner.user, bravo.tenant).get("/billing/")
    assert page.context["invoices"] == []
    assert "No invoices yet." in page.content.decode()
    alpha_customer = BillingAccount.objects.get(tenant=paying.tenant).stripe_customer_id
    assert alpha_customer not in page.content.decode()


def test_stripe_down_says_so_and_the_page_still_answers(paying: Workspace, settings: Any) -> None:
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    page = workspace_client(paying.owner.user, paying.tenant).get("/billing/")

    assert page.status_code == 200
    assert "Invoices cannot be shown right now" in page.content.decode()
