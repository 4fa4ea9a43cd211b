"""`manage.py stripe_sync_plans` against the local Stripe stand-in: every plan x interval
becomes one Price under its lookup key, billed in USD and, through its ``currency_options``,
in EUR; the per-currency Prices of before are archived, and a second run changes nothing."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from billing import stripe_api
from billing.plans import PLANS, Interval, price_lookup_key
from tests.billing.conftest import LocalStripe


def _run() -> str:
    out = StringIO()
    call_command("stripe_sync_plans", stdout=out)
    return out.getvalue()


def _ours(local_stripe: LocalStripe) -> list[dict[str, Any]]:
    prices = local_stripe.get("/v1/prices", limit=100, active="true")["data"]
    return [price for price in prices if str(price["lookup_key"]).startswith("rapport_")]


def _options(price: dict[str, Any]) -> dict[str, int]:
    return {code: option["unit_amount"] for code, option in price["currency_options"].items()}


def test_sync_creates_one_price_per_plan_and_interval_then_nothing(
    local_stripe: LocalStripe,
) -> None:
    _run()  # another test of this run may have synced already
    before_events = len(local_stripe.events())

    second = _run()

    assert (
        "products created: 0; prices created: 0, replaced: 0, unchanged: 6; "
        "per-currency prices archived: 0"
    ) in second
    assert len(local_stripe.events()) == before_events  # nothing created, nothing changed
    prices = _ours(local_stripe)
    assert len(prices) == len(PLANS) * len(Interval.values) == 6
    assert sorted(price["lookup_key"] for price in prices) == sorted(
        f"rapport_{spec.code}_{interval}" for spec in PLANS for interval in Interval.values
    )
    # currency_options only when asked for, as Stripe answers.
    assert all("currency_options" not in price for price in prices)
    professional_annual = stripe_api.price_find(
        price_lookup_key(plan="professional", interval="year")
    )
    assert professional_annual is not None
    assert (professional_annual["currency"], professional_annual["unit_amount"]) == ("usd", 49000)
    # 45.00 EUR x 10 months, in cents, beside the default currency's own amount.
    assert _options(professional_annual) == {"eur": 45000, "usd": 49000}
    assert professional_annual["recurring"]["interval"] == "year"
    assert professional_annual["product"] == "rapport_professional"
    assert professional_annual["metadata"] == {"plan": "professional", "interval": "year"}
    retrieved = local_stripe.get(
        f"/v1/prices/{professional_annual['id']}", **{"expand[0]": "currency_options"}
    )
    assert _options(retrieved) == {"eur": 45000, "usd": 49000}
    product = local_stripe.get("/v1/products/rapport_professional")
    assert product["name"] == "Rapport Professional"


def test_the_per_currency_prices_of_before_are_archived(local_stripe: LocalStripe) -> None:
    _run()
    old = local_stripe.post(
        "/v1/prices",
        {
            "product": "rapport_starter",
            "currency": "eur",
            "unit_amount": "1400",
            "recurring[interval]": "month",
            "lookup_key": "rapport_starter_month_eur",
        },
    )

    assert "per-currency prices archived: 1" in _run()

    assert local_stripe.get(f"/v1/prices/{old['id']}")["active"] is False
    assert "per-currency prices archived: 0" in _run()


def test_a_changed_amount_replaces_the_price_under_the_same_lookup_key(
    local_stripe: LocalStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run()
    key = price_lookup_key(plan="starter", interval="month")
    old = stripe_api.price_find(key)
    assert old is not None
    starter = PLANS[0]
    monkeypatch.setitem(starter.monthly_per_seat, "EUR", Decimal("16.00"))

    assert "replaced: 2, unchanged: 4" in _run()  # monthly and annual

    new = stripe_api.price_find(key)
    assert new is not None
    assert (_options(new), new["id"] != old["id"]) == ({"eur": 1600, "usd": 1500}, True)
    assert local_stripe.get(f"/v1/prices/{old['id']}")["active"] is False
    monkeypatch.undo()
    assert "replaced: 2, unchanged: 4" in _run()  # back to 14.00


def test_a_currency_option_in_a_bad_shape_is_refused_and_nothing_is_created(
    local_stripe: LocalStripe,
) -> None:
    _run()
    before = len(local_stripe.get("/v1/prices", limit=100)["data"])

    for bad, message in (
        ({"currency_options[eur][unit_amount]": "-1"}, "currency_options[eur][unit_amount]"),
        ({"currency_options[euro][unit_amount]": "1400"}, "Bad currency_options"),
        ({"currency_options[usd][unit_amount]": "1400"}, "the price's own currency"),
    ):
        response = local_stripe.post_raw(
            "/v1/prices",
            {
                "product": "rapport_starter",
                "currency": "usd",
                "unit_amount": "1500",
                "recurring[interval]": "month",
                **bad,
            },
        )
        assert response.status_code == 400
        assert message in response.json()["error"]["message"]

    assert len(local_stripe.get("/v1/prices", limit=100)["data"]) == before


def test_stripe_unreachable_is_a_clear_error(settings: Any) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_unreachable"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard: nothing answers

    with pytest.raises(CommandError, match="Stripe refused the sync"):
        call_command("stripe_sync_plans")
