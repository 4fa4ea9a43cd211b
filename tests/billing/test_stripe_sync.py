"""`manage.py stripe_sync_plans` against the local Stripe stand-in: every plan x interval x
currency becomes a Price under its lookup key, and a second run creates nothing."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from billing import stripe_api
from billing.plans import CURRENCIES, PLANS, Interval, price_lookup_key
from tests.billing.conftest import LocalStripe


def _run() -> str:
    out = StringIO()
    call_command("stripe_sync_plans", stdout=out)
    return out.getvalue()


def _ours(local_stripe: LocalStripe) -> list[dict[str, Any]]:
    prices = local_stripe.get("/v1/prices", limit=100, active="true")["data"]
    return [price for price in prices if str(price["lookup_key"]).startswith("rapport_")]


def test_sync_creates_every_price_then_nothing(local_stripe: LocalStripe) -> None:
    _run()  # another test of this run may have synced already
    before_events = len(local_stripe.events())

    second = _run()

    assert "products created: 0; prices created: 0, replaced: 0, unchanged: 12" in second
    assert len(local_stripe.events()) == before_events  # nothing created, nothing changed
    prices = _ours(local_stripe)
    assert len(prices) == len(PLANS) * len(Interval.values) * len(CURRENCIES) == 12
    professional_annual_eur = stripe_api.price_find(
        price_lookup_key(plan="professional", interval="year", currency="EUR")
    )
    assert professional_annual_eur is not None
    assert professional_annual_eur["unit_amount"] == 45000  # 45.00 x 10 months, in cents
    assert professional_annual_eur["currency"] == "eur"
    assert professional_annual_eur["recurring"]["interval"] == "year"
    assert professional_annual_eur["product"] == "rapport_professional"
    assert professional_annual_eur["metadata"] == {"plan": "professional", "interval": "year"}
    product = local_stripe.get("/v1/products/rapport_professional")
    assert product["name"] == "Rapport Professional"


def test_a_changed_amount_replaces_the_price_under_the_same_lookup_key(
    local_stripe: LocalStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run()
    key = price_lookup_key(plan="starter", interval="month", currency="USD")
    old = stripe_api.price_find(key)
    assert old is not None
    starter = PLANS[0]
    monkeypatch.setitem(
        starter.monthly_per_seat,
        "USD",
        Decimal("17.00"),
    )

    assert "replaced: 2, unchanged: 10" in _run()  # monthly and annual USD

    new = stripe_api.price_find(key)
    assert new is not None
    assert (new["unit_amount"], new["id"] != old["id"]) == (1700, True)
    assert local_stripe.get(f"/v1/prices/{old['id']}")["active"] is False
    monkeypatch.undo()
    assert "replaced: 2, unchanged: 10" in _run()  # back to 15.00


def test_stripe_unreachable_is_a_clear_error(settings: Any) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_unreachable"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard: nothing answers

    with pytest.raises(CommandError, match="Stripe refused the sync"):
        call_command("stripe_sync_plans")
