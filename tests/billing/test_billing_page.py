from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.currency import preselected_currency
from tenants.models import Plan, Tenant
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "EUR"),
        ("it-IT", "EUR"),
        ("en-IE", "EUR"),
        ("hr-HR", "EUR"),
        ("bg-BG", "EUR"),
        ("en-US,en;q=0.9", "USD"),
        ("fr-CA", "USD"),
        ("de-CH", "USD"),
        ("de", "USD"),  # no region: no guess
        ("en;q=0.9,fr-FR;q=0.8", "EUR"),  # the first tag that names a region decides
        ("en-US;q=0.5,fr-FR;q=0.8", "EUR"),  # by preference, not by position
        ("zh-Hant-TW", "USD"),
        ("", "USD"),
        ("garbage;;q=x,,", "USD"),
    ],
)
def test_currency_preselected_from_the_browser_region(accept_language: str, expected: str) -> None:
    assert preselected_currency(accept_language=accept_language) == expected


def test_an_explicit_currency_wins_and_an_unknown_one_is_ignored() -> None:
    assert preselected_currency(accept_language="de-DE", requested="usd") == "USD"
    assert preselected_currency(accept_language="en-US", requested="EUR") == "EUR"
    assert preselected_currency(accept_language="de-DE", requested="GBP") == "EUR"


def test_the_owner_sees_plan_seats_days_left_and_prices(alpha: Workspace) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        plan=Plan.TRIAL, trial_ends_at=timezone.now() + timedelta(days=14), seat_limit=10
    )
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.get("/billing/", HTTP_ACCEPT_LANGUAGE="en-US")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Trial, with every feature of Professional" in body
    assert "7 of 10 seats in use" in body  # alpha has one member of each of the seven roles
    assert "14 days left" in body
    assert response.context["currency"] == "USD"
    assert response.context["interval"] == "month"
    assert '<strong data-testid="price-starter">15.00 USD</strong>' in body
    assert '<strong data-testid="price-professional">49.00 USD</strong>' in body
    assert "343.00 USD for 7 seats" in body
    assert 'aria-current="page"' in body
    assert 'href="/billing/"' in body


def test_annual_euro_prices_are_formatted_for_the_viewer_s_locale(alpha: Workspace) -> None:
    owner = alpha.owner.user
    owner.language = "it"
    owner.save(update_fields=["language"])
    Tenant.objects.filter(pk=alpha.tenant.pk).update(currency="EUR")
    client = workspace_client(owner, alpha.tenant)

    response = client.get("/billing/?interval=year", HTTP_ACCEPT_LANGUAGE="it-IT")

    body = response.content.decode()
    assert response.context["currency"] == "EUR"
    assert '<strong data-testid="price-professional">450,00 EUR</strong>' in body
    assert '<strong data-testid="price-enterprise">910,00 EUR</strong>' in body


@pytest.mark.parametrize(
    ("workspace_currency", "accept_language", "expected"),
    [
        # The currency the workspace chose (at signup, or in its settings) wins over the browser.
        ("EUR", "en-US", "EUR"),
        ("USD", "de-DE", "USD"),
        # One the plans are not sold in: the browser's region decides.
        ("THB", "de-DE", "EUR"),
        ("THB", "th-TH", "USD"),
    ],
)
def test_the_workspace_s_currency_is_offered_first(
    alpha: Workspace, workspace_currency: str, accept_language: str, expected: str
) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(currency=workspace_currency)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get("/billing/", HTTP_ACCEPT_LANGUAGE=accept_language)
    assert response.context["currency"] == expected
    # Asking for the other one still shows it.
    other = "USD" if expected == "EUR" else "EUR"
    assert client.get(f"/billing/?currency={other}").context["currency"] == other


def test_bad_interval_and_currency_fall_back(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get("/billing/?interval=week&currency=XXX", HTTP_ACCEPT_LANGUAGE="en-US")
    assert response.status_code == 200
    assert response.context["interval"] == "month"
    assert response.context["currency"] == "USD"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.OWNER, 200),
        (Role.ADMIN, 200),
        (Role.MANAGER, 403),
        (Role.SALES_REP, 403),
        (Role.SUPPORT_AGENT, 403),
        (Role.MARKETER, 403),
        (Role.READ_ONLY, 403),
    ],
)
def test_only_billing_managers_open_the_page_or_see_its_entry(
    alpha: Workspace, role: str, status: int
) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    assert client.get("/billing/").status_code == status
    home = client.get("/").content.decode()
    assert ('href="/billing/"' in home) is (status == 200)
