"""A subscription as one Stripe event describes it, in the terms of the revenue figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.plans import (
    PriceChoice,
    plan_spec,
    price_choice,
    subscription_currency,
)

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
# The statuses counted in MRR.
COUNTED = frozenset({"active", "past_due"})
# Amounts per month are kept in twelfths of a minor unit: an annual price divides exactly.
TWELFTHS_PER_MAJOR = 1200


@dataclass(frozen=True)
class State:
    at: int
    event_id: str
    customer: str
    status: str
    plan: str
    currency: str
    seats: int
    per_month: int

    @property
    def counted(self) -> bool:
        return self.status in COUNTED and self.per_month != 0

    @property
    def mrr(self) -> int:
        return self.per_month if self.counted else 0


def to_money(twelfths: int) -> Decimal:
    """Twelfths of a minor unit as an amount in the major unit (unrounded, exact)."""
    return Decimal(twelfths) / TWELFTHS_PER_MAJOR


def unit_amount(price: dict[str, Any], choice: PriceChoice, currency: str) -> int:
    """Per seat, in minor units of ``currency``: the Price's own amount when it bills in that
    currency, else its amount among the ``currency_options`` when the event shows them
    (Stripe leaves them out unless expanded), else the plan's as billing/plans.py says."""
    # A per-currency Price of before bills in the currency its lookup key names.
    own = str(price.get("currency") or choice.legacy_currency).upper()
    if own == currency and isinstance(price.get("unit_amount"), int):
        return int(price["unit_amount"])
    option = (price.get("currency_options") or {}).get(currency.lower()) or {}
    if isinstance(option.get("unit_amount"), int):
        return int(option["unit_amount"])
    spec = plan_spec(choice.plan)
    if currency not in spec.monthly_per_seat:
        return 0  # a currency never sold: no amount to count
    return int(spec.price(currency=currency, interval=choice.interval).amount * 100)


def subscription_state(event: dict[str, Any], created: int) -> tuple[str, State] | None:
    """(subscription id, its state) from a ``customer.subscription.*`` event, or None."""
    subscription = (event.get("data") or {}).get("object") or {}
    subscription_id = subscription.get("id")
    customer = subscription.get("customer")
    if not isinstance(subscription_id, str) or not isinstance(customer, str):
        return None
    status = str(subscription.get("status", ""))[:32]
    if event.get("type") == "customer.subscription.deleted":
        status = "canceled"
    items = (subscription.get("items") or {}).get("data") or []
    plan, currency, seats, per_month = "", "", 0, 0
    for item in items:
        price = item.get("price") or item.get("plan") or {}
        choice = price_choice(price)
        quantity = item.get("quantity")
        if choice is None or not isinstance(quantity, int) or quantity < 0:
            continue
        currency = subscription_currency(subscription, choice)
        recurring = price.get("recurring") or {}
        yearly = (recurring.get("interval") or choice.interval) == "year"
        plan = choice.plan
        seats += quantity
        per_month += unit_amount(price, choice, currency) * quantity * (1 if yearly else 12)
    return subscription_id, State(
        at=created,
        event_id=str(event.get("id", "")),
        customer=customer,
        status=status,
        plan=plan,
        currency=currency,
        seats=seats,
        per_month=per_month,
    )
