"""A subscription as one Stripe event describes it, in the terms of the revenue figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.plans import plan_spec, price_choice_from_lookup_key

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
        choice = price_choice_from_lookup_key(str(price.get("lookup_key") or ""))
        quantity = item.get("quantity")
        if choice is None or not isinstance(quantity, int) or quantity < 0:
            continue
        item_plan, interval, item_currency = choice
        unit = price.get("unit_amount")
        if not isinstance(unit, int):
            amount = plan_spec(item_plan).price(currency=item_currency, interval=interval).amount
            unit = int(amount * 100)
        recurring = price.get("recurring") or {}
        yearly = (recurring.get("interval") or interval) == "year"
        plan, currency = item_plan, item_currency.upper()
        seats += quantity
        per_month += unit * quantity * (1 if yearly else 12)
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
