"""The plans sold (billing/plans.py) mirrored at Stripe: one Product per plan and one Price per
plan x interval x currency under its lookup key. Safe to run any number of times."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.utils import translation

from billing import stripe_api
from billing.plans import CURRENCIES, PLANS, Interval, price_lookup_key


def product_id(plan: str) -> str:
    return f"rapport_{plan}"


def minor_units(amount: Decimal) -> int:
    """USD and EUR have cents: an amount in minor units, refused if it has fractions of one."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has fractions of a cent")
    return int(cents)


def stripe_plans_sync() -> Counter[str]:
    """Products and Prices at Stripe as billing/plans.py says. Counts what was done:
    ``products_created``, and per price ``kept`` / ``created`` / ``replaced``."""
    done: Counter[str] = Counter()
    for spec in PLANS:
        with translation.override("en"):
            name = f"Rapport {spec.name}"
        if stripe_api.product_ensure(
            product_id=product_id(spec.code), name=name, metadata={"plan": spec.code}
        ):
            done["products_created"] += 1
        for interval in Interval.values:
            for currency in CURRENCIES:
                price = spec.price(currency=currency, interval=interval)
                outcome = stripe_api.price_ensure(
                    lookup_key=price_lookup_key(
                        plan=spec.code, interval=interval, currency=currency
                    ),
                    product_id=product_id(spec.code),
                    currency=currency,
                    unit_amount=minor_units(price.amount),
                    interval=interval,
                    metadata={"plan": spec.code, "interval": interval},
                )
                done[outcome] += 1
    return done
