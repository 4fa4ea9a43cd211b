"""The platform's revenue figures, read from our own records of Stripe's events (the stored
``StripeEvent`` rows and the workspaces' billing state), never from Stripe on each view.

Each subscription's history is the sequence of its ``customer.subscription.*`` events in
Stripe's order (their ``created`` time); at any moment it is in the state of the newest event
before it. Money stays in each currency (no conversion): every figure is per currency.

- MRR counts subscriptions that are ``active`` or ``past_due``: per seat price x seats, an
  annual price divided by 12. ARR is 12 x MRR.
- Net new MRR of a month: MRR at its end minus MRR at its start.
- Churn of a month: subscriptions deleted in it that were counted in MRR just before
  (logos: workspaces; revenue: the MRR they had), and its share of the MRR at the month's start.
- Trials: workspaces whose trial started in the month (activation); converted: those whose
  subscription has been ``active`` at some time since.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from billing.models import BillingAccount, StripeEvent
from billing.plans import plan_spec, price_choice_from_lookup_key
from tenants.models import Tenant

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
COUNTED = frozenset({"active", "past_due"})
MONTHS = 12
CENT = Decimal("0.01")


@dataclass(frozen=True)
class State:
    """A subscription as one event described it."""

    at: int
    customer: str
    status: str
    plan: str
    currency: str
    seats: int
    # Per month, in the currency's major unit, unrounded.
    monthly: Decimal

    @property
    def mrr(self) -> Decimal:
        return self.monthly if self.status in COUNTED else Decimal(0)


@dataclass
class Month:
    start: datetime
    mrr: dict[str, Decimal] = field(default_factory=dict)
    net_new: dict[str, Decimal] = field(default_factory=dict)
    churned_logos: int = 0
    churned_mrr: dict[str, Decimal] = field(default_factory=dict)
    # Churned MRR as a share (percent) of the MRR at the month's start, per currency.
    revenue_churn: dict[str, Decimal] = field(default_factory=dict)
    # Churned workspaces as a share (percent) of those paying at the month's start.
    logo_churn: Decimal | None = None
    trials_started: int = 0
    trials_converted: int = 0


@dataclass(frozen=True)
class PastDue:
    tenant: Tenant
    status: str
    amount: Decimal | None
    currency: str
    since: datetime | None


@dataclass
class Revenue:
    now: datetime
    mrr: dict[str, Decimal]
    arr: dict[str, Decimal]
    paying: int
    months: list[Month]
    past_due: list[PastDue]
    # Plan -> seats billed now in the subscriptions counted in MRR.
    seats_by_plan: dict[str, int]


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _state(event: dict[str, Any], created: int) -> tuple[str, State] | None:
    subscription = (event.get("data") or {}).get("object") or {}
    subscription_id = subscription.get("id")
    customer = subscription.get("customer")
    if not isinstance(subscription_id, str) or not isinstance(customer, str):
        return None
    status = str(subscription.get("status", ""))
    if event.get("type") == "customer.subscription.deleted":
        status = "canceled"
    items = (subscription.get("items") or {}).get("data") or []
    plan, currency, seats, monthly = "", "", 0, Decimal(0)
    for item in items:
        price = item.get("price") or item.get("plan") or {}
        choice = price_choice_from_lookup_key(str(price.get("lookup_key") or ""))
        quantity = item.get("quantity")
        if choice is None or not isinstance(quantity, int) or quantity < 0:
            continue
        item_plan, interval, item_currency = choice
        unit = price.get("unit_amount")
        if isinstance(unit, int):
            amount = Decimal(unit * quantity) / 100
        else:
            amount = (
                plan_spec(item_plan).price(currency=item_currency, interval=interval).amount
                * quantity
            )
        recurring = price.get("recurring") or {}
        if (recurring.get("interval") or interval) == "year":
            amount /= 12
        plan, currency = item_plan, item_currency.upper()
        seats += quantity
        monthly += amount
    return subscription_id, State(
        at=created,
        customer=customer,
        status=status,
        plan=plan,
        currency=currency,
        seats=seats,
        monthly=monthly,
    )


def subscription_histories(
    events: Iterable[tuple[str, int, dict[str, Any]]],
) -> dict[str, list[State]]:
    """Each subscription's states in Stripe's order, from (type, created, payload) rows."""
    histories: dict[str, list[State]] = defaultdict(list)
    for _type, created, payload in events:
        found = _state(payload, created)
        if found is not None:
            histories[found[0]].append(found[1])
    for states in histories.values():
        states.sort(key=lambda state: state.at)
    return dict(histories)


def _at(states: list[State], moment: int) -> State | None:
    """The subscription's state at ``moment``: the newest event before it."""
    current = None
    for state in states:
        if state.at >= moment:
            break
        current = state
    return current


def _mrr_at(histories: dict[str, list[State]], moment: int) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for states in histories.values():
        state = _at(states, moment)
        if state is not None and state.mrr:
            totals[state.currency] += state.mrr
    return dict(totals)


def _paying_customers_at(histories: dict[str, list[State]], moment: int) -> set[str]:
    paying = set()
    for states in histories.values():
        state = _at(states, moment)
        if state is not None and state.mrr:
            paying.add(state.customer)
    return paying


def _month_starts(now: datetime, count: int) -> list[datetime]:
    year, month = now.year, now.month
    starts = []
    for _ in range(count):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return starts[::-1]


def _next_month(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def _percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def revenue_summary(*, now: datetime, months: int = MONTHS) -> Revenue:
    """Every figure of the staff revenue dashboard at ``now``."""
    rows = StripeEvent.objects.filter(type__in=SUBSCRIPTION_EVENTS).values_list(
        "type", "created", "payload"
    )
    histories = subscription_histories(rows)
    accounts = {
        account.stripe_customer_id: account
        for account in BillingAccount.objects.select_related("tenant")
    }
    moment = int(now.timestamp()) + 1
    mrr = {currency: _money(value) for currency, value in _mrr_at(histories, moment).items()}

    converted_customers = {
        state.customer
        for states in histories.values()
        for state in states
        if state.status == "active"
    }
    converted_tenants = {
        accounts[customer].tenant_id for customer in converted_customers if customer in accounts
    }
    trials = Tenant.objects.exclude(state=Tenant.State.SPARE).exclude(activated_at=None)

    series = []
    for start in _month_starts(now, months):
        end = min(_next_month(start), now)
        start_ts, end_ts = int(start.timestamp()), int(end.timestamp()) + (end == now)
        before = _mrr_at(histories, start_ts)
        after = _mrr_at(histories, end_ts)
        month = Month(start=start)
        month.mrr = {currency: _money(value) for currency, value in after.items()}
        month.net_new = {
            currency: _money(after.get(currency, Decimal(0)) - before.get(currency, Decimal(0)))
            for currency in sorted(set(before) | set(after))
        }
        churned_customers = set()
        churned: dict[str, Decimal] = defaultdict(Decimal)
        for states in histories.values():
            for index, state in enumerate(states):
                if state.status != "canceled" or not start_ts <= state.at < end_ts:
                    continue
                previous = states[index - 1] if index else None
                if previous is not None and previous.mrr:
                    churned_customers.add(state.customer)
                    churned[previous.currency] += previous.mrr
        month.churned_logos = len(churned_customers)
        month.churned_mrr = {currency: _money(value) for currency, value in churned.items()}
        month.revenue_churn = {
            currency: value
            for currency, amount in churned.items()
            if (value := _percent(amount, before.get(currency, Decimal(0)))) is not None
        }
        month.logo_churn = _percent(
            len(churned_customers), len(_paying_customers_at(histories, start_ts))
        )
        started = trials.filter(activated_at__gte=start, activated_at__lt=_next_month(start))
        started_ids = set(started.values_list("pk", flat=True))
        month.trials_started = len(started_ids)
        month.trials_converted = len(started_ids & converted_tenants)
        series.append(month)

    seats: dict[str, int] = defaultdict(int)
    paying = set()
    for states in histories.values():
        current = _at(states, moment)
        if current is not None and current.mrr:
            seats[current.plan] += current.seats
            paying.add(current.customer)

    return Revenue(
        now=now,
        mrr=mrr,
        arr={currency: _money(value * 12) for currency, value in mrr.items()},
        paying=len(paying),
        months=series,
        past_due=_past_due(accounts),
        seats_by_plan=dict(sorted(seats.items())),
    )


def _past_due(accounts: dict[str, BillingAccount]) -> list[PastDue]:
    """Workspaces behind on payment, with what their newest unpaid failed invoice asks."""
    overdue = [
        account
        for account in accounts.values()
        if account.tenant.billing_status
        in (Tenant.BillingStatus.PAST_DUE, Tenant.BillingStatus.UNPAID)
    ]
    if not overdue:
        return []
    customers = [account.stripe_customer_id for account in overdue]
    paid_invoices = set()
    failed: dict[str, dict[str, Any]] = {}
    for event_type, payload in (
        StripeEvent.objects.filter(
            type__in=("invoice.paid", "invoice.payment_failed"),
            payload__data__object__customer__in=customers,
        )
        .order_by("created", "event_id")
        .values_list("type", "payload")
    ):
        invoice = payload["data"]["object"]
        if event_type == "invoice.paid":
            paid_invoices.add(invoice.get("id"))
        else:
            failed[invoice["customer"]] = invoice
    result = []
    for account in sorted(overdue, key=lambda account: account.tenant.name.casefold()):
        invoice = failed.get(account.stripe_customer_id)
        amount: Decimal | None = None
        currency = account.currency.upper()
        if invoice is not None and invoice.get("id") not in paid_invoices:
            due = invoice.get("amount_due")
            if isinstance(due, int):
                amount = _money(Decimal(due) / 100)
                currency = str(invoice.get("currency") or currency).upper()
        result.append(
            PastDue(
                tenant=account.tenant,
                status=account.tenant.billing_status,
                amount=amount,
                currency=currency,
                since=account.past_due_since,
            )
        )
    return result
