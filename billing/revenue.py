"""The platform's revenue figures, read from our own records of Stripe's events, never from
Stripe on each view. The dashboard reads the rollup (billing/revenue_rollup.py), kept up to
date as each subscription event is applied; the same figures can be recomputed from every
stored event (``recompute=True``), which is how the rollup is checked.

Each subscription's history is the sequence of its ``customer.subscription.*`` events in
Stripe's order (their ``created`` time, then their id); at any moment it is in the state of
the newest event before it. Money stays in each currency (no conversion): every figure is
per currency.

- MRR counts subscriptions that are ``active`` or ``past_due``: per seat price x seats, an
  annual price divided by 12. ARR is 12 x MRR.
- Net new MRR of a month: MRR at its end minus MRR at its start.
- Churn of a month: subscriptions canceled in it that were counted in MRR just before
  (logos: subscriptions, one per workspace; revenue: the MRR they had), and its share of the
  MRR at the month's start.
- Trials: workspaces whose trial started in the month (activation); converted: those whose
  subscription has been ``active`` at some time since.
- Net revenue retention of the 12 months to a month's end: the customers paying at the end of
  the same month a year before (the cohort) and their MRR then (starting MRR); by the month's
  end each has expanded (MRR up), contracted (down, still paying) or churned (nothing
  counted). NRR = (starting + expansion - contraction - churn) / starting; gross revenue
  retention (GRR) leaves expansion out. Customers who started paying since are not in the
  cohort. Per currency, per Stripe customer (a workspace's subscriptions over time).
- Stripe creates an event before we receive it: the figures "now" take in the whole of the
  current month's changes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from django.db import connection

from billing.models import BillingAccount, StripeEvent
from billing.models_revenue import RevenueMonth, RevenueState
from billing.revenue_states import (
    COUNTED,
    SUBSCRIPTION_EVENTS,
    State,
    subscription_state,
    to_money,
)
from tenants.models import Tenant

MONTHS = 12
CENT = Decimal("0.01")

Figures = Counter[tuple[str, str]]
# (Stripe customer, currency) -> MRR in twelfths of a minor unit.
CustomerMrr = Counter[tuple[str, str]]
RETENTION_MONTHS = 12


@dataclass
class Month:
    start: datetime
    mrr: dict[str, Decimal] = field(default_factory=dict)
    net_new: dict[str, Decimal] = field(default_factory=dict)
    churned_logos: int = 0
    churned_mrr: dict[str, Decimal] = field(default_factory=dict)
    # Churned MRR as a share (percent) of the MRR at the month's start, per currency.
    revenue_churn: dict[str, Decimal] = field(default_factory=dict)
    # Churned subscriptions as a share (percent) of those paying at the month's start.
    logo_churn: Decimal | None = None
    trials_started: int = 0
    trials_converted: int = 0
    # Net and gross revenue retention of the 12 months to the month's end, per currency.
    retention: dict[str, Retention] = field(default_factory=dict)


@dataclass(frozen=True)
class Retention:
    """What became of the MRR of the customers paying at the start of a 12-month window (the
    cohort), by its end; amounts in the major unit, percentages to one decimal."""

    customers: int
    starting: Decimal
    expansion: Decimal
    contraction: Decimal
    churned: Decimal
    net: Decimal
    gross: Decimal

    @property
    def ending(self) -> Decimal:
        return self.starting + self.expansion - self.contraction - self.churned


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
    # Workspaces in their free trial now (signed up, not paying, trial not over).
    trials_running: int
    months: list[Month]
    past_due: list[PastDue]
    # Plan -> seats billed now in the subscriptions counted in MRR.
    seats_by_plan: dict[str, int]
    # Net and gross revenue retention of the last 12 months, per currency.
    retention: dict[str, Retention]


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def subscription_histories(
    events: Iterable[tuple[str, int, dict[str, Any]]],
) -> dict[str, list[State]]:
    """Each subscription's states in Stripe's order, from (type, created, payload) rows."""
    histories: dict[str, list[State]] = defaultdict(list)
    for _type, created, payload in events:
        found = subscription_state(payload, created)
        if found is not None:
            histories[found[0]].append(found[1])
    for states in histories.values():
        states.sort(key=lambda state: (state.at, state.event_id))
    return dict(histories)


class _Ledger(Protocol):
    def running(self, moment: int) -> Figures:
        """MRR (per currency), paying subscriptions and seats (per plan) at ``moment``: a
        month's start, or just after now."""

    def churn(self, start: int, end: int) -> Figures:
        """Churned MRR (per currency) and subscriptions of the month [start, end)."""

    def customers(self, moments: list[int]) -> tuple[dict[int, CustomerMrr], set[str]]:
        """Each customer's MRR (per currency) at each of ``moments``, and the customers
        whose subscription has been active at some time."""


def _month_of(moment: int) -> date:
    at = datetime.fromtimestamp(moment, tz=UTC)
    return date(at.year, at.month, 1)


class _Rollup:
    """The figures from the monthly rollup: one small query."""

    def __init__(self) -> None:
        self.rows: dict[date, Figures] = defaultdict(Counter)
        for month, measure, key, value in RevenueMonth.objects.values_list(
            "month", "measure", "key", "value"
        ):
            self.rows[month][measure, key] += value

    def running(self, moment: int) -> Figures:
        month = _month_of(moment)
        # A month's start: the months before it; just after now: the current month too.
        at_start = datetime(month.year, month.month, 1, tzinfo=UTC).timestamp() == moment
        total: Figures = Counter()
        for row_month, figures in self.rows.items():
            if row_month < month or (row_month == month and not at_start):
                for (measure, key), value in figures.items():
                    if measure in ("mrr", "paying", "seats"):
                        total[measure, key] += value
        return total

    def churn(self, start: int, end: int) -> Figures:
        figures = self.rows.get(_month_of(start), Counter())
        return Counter(
            {
                (measure, key): value
                for (measure, key), value in figures.items()
                if measure in ("churned_mrr", "churned_logos")
            }
        )

    def customers(self, moments: list[int]) -> tuple[dict[int, CustomerMrr], set[str]]:
        # One read: each subscription's newest state before each moment, summed per customer
        # and currency where it counts in MRR, then (moment NULL) the customers ever active.
        # A state is the newest before a moment when it is older and the subscription's next
        # state (in the rollup's order) is not: one ordered pass over the states, read along
        # their index, instead of sorting every state once per moment.
        table = RevenueState._meta.db_table
        counted = sorted(COUNTED)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT moment.at, span.customer, span.currency, sum(span.per_month) FROM ("  # noqa: S608
                " SELECT customer, currency, status, per_month, created, lead(created) OVER ("
                "  PARTITION BY subscription_id ORDER BY created, event_id) AS until"
                f" FROM {table}"
                ") AS span JOIN unnest(%s::bigint[]) AS moment(at)"
                " ON span.created < moment.at AND (span.until IS NULL OR span.until >= moment.at)"
                " WHERE span.status = ANY(%s) AND span.per_month <> 0"
                " GROUP BY moment.at, span.customer, span.currency"
                " UNION ALL"
                f" SELECT DISTINCT NULL::bigint, customer, '', 0 FROM {table}"
                " WHERE status = 'active'",
                [moments, counted],
            )
            rows = cursor.fetchall()
        at_moments: dict[int, CustomerMrr] = {moment: Counter() for moment in moments}
        converted: set[str] = set()
        for at, customer, currency, per_month in rows:
            if at is None:
                converted.add(customer)
            else:
                at_moments[at][customer, currency] += int(per_month)
        return at_moments, converted


class _Recomputed:
    """The figures recomputed from every stored subscription event."""

    def __init__(self) -> None:
        rows = StripeEvent.objects.filter(
            type__in=SUBSCRIPTION_EVENTS, processed_at__isnull=False
        ).values_list("type", "created", "payload")
        self.histories = subscription_histories(rows)

    @staticmethod
    def _at(states: list[State], moment: int) -> State | None:
        current = None
        for state in states:
            if state.at >= moment:
                break
            current = state
        return current

    def running(self, moment: int) -> Figures:
        total: Figures = Counter()
        for states in self.histories.values():
            state = self._at(states, moment)
            if state is not None and state.counted:
                total["mrr", state.currency] += state.per_month
                total["paying", ""] += 1
                total["seats", state.plan] += state.seats
        return total

    def churn(self, start: int, end: int) -> Figures:
        total: Figures = Counter()
        for states in self.histories.values():
            for index, state in enumerate(states):
                if state.status != "canceled" or not start <= state.at < end:
                    continue
                previous = states[index - 1] if index else None
                if previous is not None and previous.counted:
                    total["churned_mrr", previous.currency] += previous.per_month
                    total["churned_logos", ""] += 1
        return total

    def customers(self, moments: list[int]) -> tuple[dict[int, CustomerMrr], set[str]]:
        at_moments: dict[int, CustomerMrr] = {}
        for moment in moments:
            mrr: CustomerMrr = Counter()
            for states in self.histories.values():
                state = self._at(states, moment)
                if state is not None and state.counted:
                    mrr[state.customer, state.currency] += state.per_month
            at_moments[moment] = mrr
        converted = {
            state.customer
            for states in self.histories.values()
            for state in states
            if state.status == "active"
        }
        return at_moments, converted


def _per(figures: Figures, measure: str) -> dict[str, int]:
    return {key: value for (name, key), value in figures.items() if name == measure and value}


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


def _share(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """``part`` as a percentage of a ``whole`` that is not zero, to one decimal."""
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    return _share(part, whole) if whole else None


def _months_before(start: datetime, count: int) -> datetime:
    months = start.year * 12 + start.month - 1 - count
    return start.replace(year=months // 12, month=months % 12 + 1)


def _retention(opening: CustomerMrr, closing: CustomerMrr) -> dict[str, Retention]:
    """Per currency: what became of the MRR of the customers paying at ``opening``."""
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    for (customer, currency), before in opening.items():
        if before <= 0:
            continue
        after = max(closing.get((customer, currency), 0), 0)
        figures = sums[currency]
        figures["customers"] += 1
        figures["starting"] += before
        if after == 0:
            figures["churned"] += before
        elif after > before:
            figures["expansion"] += after - before
        else:
            figures["contraction"] += before - after
    result = {}
    for currency, figures in sorted(sums.items()):
        starting = figures["starting"]
        kept = starting - figures["contraction"] - figures["churned"]
        result[currency] = Retention(
            customers=figures["customers"],
            starting=_money(to_money(starting)),
            expansion=_money(to_money(figures["expansion"])),
            contraction=_money(to_money(figures["contraction"])),
            churned=_money(to_money(figures["churned"])),
            net=_share(kept + figures["expansion"], starting),
            gross=_share(kept, starting),
        )
    return result


def _amounts(twelfths: dict[str, int]) -> dict[str, Decimal]:
    return {currency: _money(to_money(value)) for currency, value in twelfths.items()}


def revenue_summary(*, now: datetime, months: int = MONTHS, recompute: bool = False) -> Revenue:
    """Every figure of the staff revenue dashboard at ``now``, from the rollup (or recomputed
    from every stored event)."""
    ledger: _Ledger = _Recomputed() if recompute else _Rollup()
    accounts = {
        account.stripe_customer_id: account
        for account in BillingAccount.objects.select_related("tenant")
    }
    moment = int(now.timestamp()) + 1
    current = ledger.running(moment)
    mrr_now = _per(current, "mrr")

    starts = _month_starts(now, months)
    # A 12-month window ends at a month's end (now for the current month) and starts at the
    # end of the same month a year before.
    windows = [
        (
            int(_months_before(_next_month(start), RETENTION_MONTHS).timestamp()),
            int(min(_next_month(start), now).timestamp()) + (_next_month(start) > now),
        )
        for start in starts
    ]
    this_month = datetime(now.year, now.month, 1, tzinfo=UTC)
    headline = (
        int(_months_before(_next_month(this_month), RETENTION_MONTHS).timestamp()),
        moment,
    )
    customer_mrr, converted = ledger.customers(
        sorted({at for window in [*windows, headline] for at in window})
    )
    converted_tenants = {
        accounts[customer].tenant_id for customer in converted if customer in accounts
    }
    activated = list(
        Tenant.objects.exclude(state=Tenant.State.SPARE)
        .exclude(activated_at=None)
        .values_list("pk", "activated_at")
    )

    series = []
    for start, (opened, closed) in zip(starts, windows, strict=True):
        end = min(_next_month(start), now)
        start_ts, end_ts = int(start.timestamp()), int(end.timestamp()) + (end == now)
        opening = ledger.running(start_ts)
        before = _per(opening, "mrr")
        after = _per(ledger.running(end_ts), "mrr")
        churn = ledger.churn(start_ts, end_ts)
        churned = _per(churn, "churned_mrr")
        month = Month(start=start)
        month.mrr = _amounts(after)
        month.net_new = {
            currency: _money(to_money(after.get(currency, 0) - before.get(currency, 0)))
            for currency in sorted(set(before) | set(after))
        }
        month.churned_logos = churn["churned_logos", ""]
        month.churned_mrr = _amounts(churned)
        month.revenue_churn = {
            currency: value
            for currency, amount in churned.items()
            if (value := _percent(amount, before.get(currency, 0))) is not None
        }
        month.logo_churn = _percent(month.churned_logos, opening["paying", ""])
        started_ids = {
            pk for pk, activated_at in activated if start <= activated_at < _next_month(start)
        }
        month.trials_started = len(started_ids)
        month.trials_converted = len(started_ids & converted_tenants)
        month.retention = _retention(customer_mrr[opened], customer_mrr[closed])
        series.append(month)

    mrr = _amounts(mrr_now)
    return Revenue(
        now=now,
        mrr=mrr,
        arr={currency: _money(to_money(value * 12)) for currency, value in mrr_now.items()},
        paying=current["paying", ""],
        trials_running=Tenant.objects.filter(
            state=Tenant.State.ACTIVE,
            billing_status=Tenant.BillingStatus.TRIALING,
            trial_ends_at__gt=now,
        ).count(),
        months=series,
        past_due=_past_due(accounts),
        seats_by_plan=dict(sorted(_per(current, "seats").items())),
        retention=_retention(customer_mrr[headline[0]], customer_mrr[headline[1]]),
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
