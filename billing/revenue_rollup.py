"""The revenue rollup: monthly changes of the staff dashboard's figures, kept up to date as
each subscription event is applied (in the transaction that applies it, so exactly once),
whatever order the events arrive in.

A subscription contributes to the figures from each of its events until its next one. An
event that arrives late, between two already recorded, replaces its predecessor's
contribution from its own time until its successor's time: the change is written in its own
month and undone in its successor's month. Churn is counted at a cancellation, as what the
subscription contributed just before it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection, transaction

from billing.models_revenue import RevenueMonth, RevenueState
from billing.revenue_states import SUBSCRIPTION_EVENTS, State, subscription_state

Figures = Counter[tuple[str, str]]


def _counted(state: State | None) -> Figures:
    """What a subscription in ``state`` adds to the running figures."""
    figures: Figures = Counter()
    if state is not None and state.counted:
        figures["mrr", state.currency] += state.per_month
        figures["paying", ""] += 1
        figures["seats", state.plan] += state.seats
    return figures


def _churn(before: State | None) -> Figures:
    """What a cancellation after ``before`` adds to the month's churn."""
    figures: Figures = Counter()
    if before is not None and before.counted:
        figures["churned_mrr", before.currency] += before.per_month
        figures["churned_logos", ""] += 1
    return figures


def _month(created: int) -> date:
    moment = datetime.fromtimestamp(created, tz=UTC)
    return date(moment.year, moment.month, 1)


def _add(month: date, figures: Figures, sign: int = 1) -> None:
    rows = [(month, measure, key, sign * value) for (measure, key), value in figures.items()]
    rows = [row for row in rows if row[3]]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {RevenueMonth._meta.db_table} (month, measure, key, value)"  # noqa: S608
            " VALUES (%s, %s, %s, %s) ON CONFLICT (month, measure, key)"
            f" DO UPDATE SET value = {RevenueMonth._meta.db_table}.value + EXCLUDED.value",
            rows,
        )


def _state_of(row: RevenueState) -> State:
    return State(
        at=row.created,
        event_id=row.event_id,
        customer=row.customer,
        status=row.status,
        plan=row.plan,
        currency=row.currency,
        seats=row.seats,
        per_month=row.per_month,
    )


def _state_row(subscription_id: str, state: State) -> RevenueState:
    return RevenueState(
        event_id=state.event_id,
        subscription_id=subscription_id,
        customer=state.customer,
        created=state.at,
        status=state.status,
        plan=state.plan,
        currency=state.currency,
        seats=state.seats,
        per_month=state.per_month,
    )


def revenue_record(*, event: dict[str, Any], created: int) -> bool:
    """Take a subscription event into the rollup. Called in the transaction that applies the
    event; True when it changed the rollup (False: not a subscription event, or no
    subscription in it)."""
    if event.get("type") not in SUBSCRIPTION_EVENTS:
        return False
    found = subscription_state(event, created)
    if found is None:
        return False
    subscription_id, state = found
    with transaction.atomic():
        # One subscription's events are taken in one at a time.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"revenue:{subscription_id}"],
            )
        if RevenueState.objects.filter(pk=state.event_id).exists():
            return False
        history = RevenueState.objects.filter(subscription_id=subscription_id)
        before_row = (
            history.filter(created__lte=state.at)
            .exclude(created=state.at, event_id__gt=state.event_id)
            .order_by("-created", "-event_id")
            .first()
        )
        after_row = (
            history.filter(created__gte=state.at)
            .exclude(created=state.at, event_id__lt=state.event_id)
            .order_by("created", "event_id")
            .first()
        )
        before = _state_of(before_row) if before_row is not None else None
        after = _state_of(after_row) if after_row is not None else None
        month = _month(state.at)
        _add(month, _counted(state))
        _add(month, _counted(before), -1)
        if state.status == "canceled":
            _add(month, _churn(before))
        if after is not None:
            later = _month(after.at)
            _add(later, _counted(before))
            _add(later, _counted(state), -1)
            if after.status == "canceled":
                _add(later, _churn(state))
                _add(later, _churn(before), -1)
        _state_row(subscription_id, state).save(force_insert=True)
    return True


def revenue_rebuild() -> int:
    """The rollup made again from every stored subscription event (after a restore, or for
    events stored before the rollup existed). Returns the events taken in.

    One pass in the rollup's order, in memory: each event's predecessor is the one before it
    and none has a successor yet, so it adds what ``revenue_record`` would, without a query per
    event. The states table is locked first, so an event applied meanwhile waits and is then
    taken in after the rebuild, as any late event is."""
    from billing.models import StripeEvent

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {RevenueState._meta.db_table} IN EXCLUSIVE MODE")
        found = [
            taken
            for created, payload in StripeEvent.objects.filter(
                type__in=SUBSCRIPTION_EVENTS, processed_at__isnull=False
            )
            .values_list("created", "payload")
            .iterator(chunk_size=2_000)
            if payload.get("type") in SUBSCRIPTION_EVENTS
            and (taken := subscription_state(payload, created)) is not None
        ]
        # The rollup's order: time, then the event id byte by byte (Python compares code
        # points, which order as UTF-8 bytes do; the states' event id is collated "C").
        found.sort(key=lambda item: (item[1].at, item[1].event_id))
        months: dict[date, Figures] = {}
        last: dict[str, State] = {}
        states = []
        for subscription_id, state in found:
            before = last.get(subscription_id)
            figures = months.setdefault(_month(state.at), Counter())
            figures.update(_counted(state))
            figures.subtract(_counted(before))
            if state.status == "canceled":
                figures.update(_churn(before))
            last[subscription_id] = state
            states.append(_state_row(subscription_id, state))
        RevenueMonth.objects.all().delete()
        RevenueState.objects.all().delete()
        RevenueState.objects.bulk_create(states, batch_size=5_000)
        RevenueMonth.objects.bulk_create(
            (
                RevenueMonth(month=month, measure=measure, key=key, value=value)
                for month, figures in months.items()
                for (measure, key), value in figures.items()
                if value
            ),
            batch_size=5_000,
        )
    return len(states)
