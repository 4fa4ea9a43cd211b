"""The plans sold (billing/plans.py) mirrored at Stripe: one Product per plan and one Price per
plan x interval under its lookup key, billed in the default currency and in every other one
through its ``currency_options`` (ADR 0084). The per-currency Prices sold before are archived:
the subscriptions on them go on. Safe to run any number of times."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.utils import translation

from billing import stripe_api
from billing.plans import (
    CURRENCIES,
    DEFAULT_CURRENCY,
    PLANS,
    Interval,
    PlanSpec,
    legacy_price_lookup_key,
    price_lookup_key,
)


def product_id(plan: str) -> str:
    return f"rapport_{plan}"


def minor_units(amount: Decimal) -> int:
    """USD and EUR have cents: an amount in minor units, refused if it has fractions of one."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has fractions of a cent")
    return int(cents)


def unit_amounts(spec: PlanSpec, interval: str) -> dict[str, int]:
    """Per seat for one period of ``interval``, in minor units, by currency."""
    return {
        currency: minor_units(spec.price(currency=currency, interval=interval).amount)
        for currency in CURRENCIES
    }


def stripe_plans_sync() -> Counter[str]:
    """Products and Prices at Stripe as billing/plans.py says. Counts what was done:
    ``products_created``, per price ``kept`` / ``created`` / ``replaced``, and ``archived``
    per-currency Prices of before."""
    done: Counter[str] = Counter()
    for spec in PLANS:
        with translation.override("en"):
            name = f"Rapport {spec.name}"
        if stripe_api.product_ensure(
            product_id=product_id(spec.code), name=name, metadata={"plan": spec.code}
        ):
            done["products_created"] += 1
        for interval in Interval.values:
            key = price_lookup_key(plan=spec.code, interval=interval)
            outcome = stripe_api.price_ensure(
                lookup_key=key,
                product_id=product_id(spec.code),
                unit_amounts=unit_amounts(spec, interval),
                default_currency=DEFAULT_CURRENCY,
                interval=interval,
                metadata={"plan": spec.code, "interval": interval},
            )
            done[outcome] += 1
            for currency in CURRENCIES:
                if stripe_api.price_archive(legacy_price_lookup_key(key, currency)):
                    done["archived"] += 1
    return done
