"""The currency a visitor priced the plans in carries through signup: the workspace starts in
it, and its billing page offers the plans in it."""

from __future__ import annotations

import pytest
from django.core import mail

from tenants.currencies import visitor_currency
from tenants.models import PendingSignup, Tenant
from tests.conftest import public_client
from tests.tenants.test_signup import GOOD, _confirm, _link, _sign_up


@pytest.mark.parametrize(
    ("accept_language", "requested", "expected"),
    [
        ("de-DE,de;q=0.9", "", "EUR"),
        ("en-US", "", "USD"),
        ("en-US", "eur", "EUR"),
        ("de-DE", "usd", "USD"),
        ("th-TH", "THB", "THB"),
        # A tampered or unknown code falls back to the visitor's region.
        ("it-IT", "XXX", "EUR"),
        ("zh-CN", "<script>", "USD"),
    ],
)
def test_the_visitors_currency_is_the_asked_one_else_their_regions(
    accept_language: str, requested: str, expected: str
) -> None:
    assert visitor_currency(accept_language=accept_language, requested=requested) == expected


def test_the_pricing_pages_trial_button_carries_the_currency_shown(world, db) -> None:
    page = public_client().get("/pricing/?currency=EUR")
    assert page.status_code == 200
    assert b'href="/signup/?currency=EUR"' in page.content
    assert b'href="/signup/?currency=USD"' not in page.content


def test_a_workspace_signed_up_from_euro_prices_starts_in_euros(
    world, db, django_capture_on_commit_callbacks
) -> None:
    client = public_client()
    form = client.get("/signup/?currency=EUR", HTTP_ACCEPT_LANGUAGE="en-US")
    assert b'name="currency" value="EUR"' in form.content
    _sign_up(client, {**GOOD, "currency": "EUR"}, django_capture_on_commit_callbacks)
    assert PendingSignup.objects.get().currency == "EUR"
    _confirm(client, _link(mail.outbox[0]), django_capture_on_commit_callbacks)
    assert Tenant.objects.get(slug="acme").currency == "EUR"


def test_without_a_choice_the_browsers_region_decides_and_a_forged_code_is_ignored(
    world, db, django_capture_on_commit_callbacks
) -> None:
    client = public_client()
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "it-IT,it;q=0.9"
    _sign_up(client, {**GOOD, "currency": "XX'; DROP"}, django_capture_on_commit_callbacks)
    assert PendingSignup.objects.get().currency == "EUR"
    _confirm(client, _link(mail.outbox[0]), django_capture_on_commit_callbacks)
    assert Tenant.objects.get(slug="acme").currency == "EUR"
