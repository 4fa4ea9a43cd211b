"""Replay: 2,000 Stripe events for one workspace — subscription changes and invoice events
(paid, payment failed, finalized) — shuffled and each delivered three times to the webhook
endpoint (signed as Stripe signs them), by several threads at once, some deliveries of the
same event at the same moment. Each is stored once and takes effect once, and the final
state is the one another workspace reaches from the same events delivered once, in order.

Runs on the committed test workspaces (real concurrent transactions) and removes what it
made."""

from __future__ import annotations

import json
import queue
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django_tenants.utils import schema_context

from billing import webhooks
from billing.models import BillingAccount, StripeEvent
from billing.plans import plan_spec
from billing.revenue import revenue_summary
from billing.revenue_rollup import revenue_rebuild
from tenants.audit.models import AuditEvent
from tenants.models import Tenant
from tests.billing.conftest import sign
from tests.concurrency import race
from tests.conftest import World

EVENTS = 2000
START = 1_700_000_000
WORKERS = 2


def _subscription(index: int, rng: random.Random, subscription: str, customer: str) -> Any:
    plan = rng.choice(["starter", "professional", "enterprise"])
    interval = rng.choice(["month", "year"])
    return {
        "object": "subscription",
        "id": subscription,
        "customer": customer,
        "currency": "eur",
        "status": rng.choice(["active", "active", "past_due", "trialing", "unpaid"]),
        "cancel_at_period_end": index % 7 == 0,
        "items": {
            "data": [
                {
                    "price": {"lookup_key": f"rapport_{plan}_{interval}"},
                    "quantity": rng.randint(1, 40),
                    "current_period_end": START + 100_000 + index,
                }
            ]
        },
    }


def _events(prefix: str, customer: str, seed: int) -> list[dict[str, Any]]:
    """The same history for any customer: one subscription's changes and its invoices."""
    rng = random.Random(seed)
    events = []
    for index in range(EVENTS):
        roll = rng.random()
        if index == 0 or roll < 0.5:
            kind = "customer.subscription." + ("created" if index == 0 else "updated")
            obj = _subscription(index, rng, f"sub_{prefix}", customer)
        else:
            kind = (
                "invoice.paid"
                if roll < 0.7
                else "invoice.payment_failed"
                if roll < 0.85
                else "invoice.finalized"
            )
            obj = {
                "object": "invoice",
                "id": f"in_{prefix}_{index // 3:04d}",
                "customer": customer,
                "subscription": f"sub_{prefix}",
                "amount_due": rng.randint(100, 90_000),
                "currency": "eur",
            }
        events.append(
            {
                "id": f"evt_{prefix}_{index:04d}",
                "object": "event",
                "type": kind,
                # Stripe's order: one second apart.
                "created": START + index,
                "data": {"object": obj},
            }
        )
    return events


def _deliver(event: dict[str, Any]) -> int:
    """POST the event as Stripe does; committed at once, its task runs after the commit."""
    body = json.dumps(event)
    response = Client(HTTP_HOST="localhost").post(
        "/stripe/webhook/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body),
    )
    return response.status_code


def _final_state(tenant_id: int) -> tuple[Any, ...]:
    tenant = Tenant.objects.get(pk=tenant_id)
    account = BillingAccount.objects.get(tenant_id=tenant_id)
    return (
        tenant.plan,
        tenant.seat_limit,
        tenant.billing_status,
        account.interval,
        account.currency,
        account.cancel_at_period_end,
        account.current_period_end,
        account.subscription_status,
        account.subscription_version,
        account.payment_version,
        account.last_payment_failed,
        account.past_due_since is None,
    )


@pytest.fixture
def two_workspaces(world: World, django_db_blocker: Any) -> Iterator[tuple[Tenant, Tenant]]:
    """Alpha takes the events in order, bravo shuffled and repeated; both start trialing."""
    tenants = (world.alpha.tenant, world.bravo.tenant)
    with django_db_blocker.unblock():
        saved = {
            tenant.pk: Tenant.objects.filter(pk=tenant.pk).values(
                "plan", "seat_limit", "billing_status"
            )[0]
            for tenant in tenants
        }
        for tenant, customer in zip(
            tenants, ("cus_replay_inorder", "cus_replay_shuffled"), strict=True
        ):
            Tenant.objects.filter(pk=tenant.pk).update(
                plan="trial", seat_limit=10, billing_status=Tenant.BillingStatus.TRIALING
            )
            BillingAccount.objects.create(tenant=tenant, stripe_customer_id=customer)
        try:
            yield tenants
        finally:
            StripeEvent.objects.filter(event_id__startswith="evt_replay").delete()
            revenue_rebuild()
            for tenant in tenants:
                BillingAccount.objects.filter(tenant=tenant).delete()
                Tenant.objects.filter(pk=tenant.pk).update(**saved[tenant.pk])
                with schema_context(tenant.schema_name):
                    AuditEvent.objects.filter(action__startswith="billing.").delete()
            connections.close_all()


def _run_concurrently(jobs: list[Callable[[], None]]) -> list[BaseException]:
    """The jobs taken in their order by WORKERS threads, each with its own connection."""
    pending: queue.Queue[Callable[[], None]] = queue.Queue()
    for job in jobs:
        pending.put(job)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while True:
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    return
                job()
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_2000_events_shuffled_repeated_and_concurrent_end_in_the_in_order_state(
    two_workspaces: tuple[Tenant, Tenant], monkeypatch: Any
) -> None:
    in_order, shuffled = two_workspaces
    ordered_events = _events("replay_inorder", "cus_replay_inorder", seed=20261202)
    events = _events("replay_shuffled", "cus_replay_shuffled", seed=20261202)
    applied: list[bool] = []
    statuses: list[int] = []
    process = webhooks.stripe_event_process

    def counting(*, event_id: str) -> bool:
        result = process(event_id=event_id)
        applied.append(result)
        return result

    monkeypatch.setattr(webhooks, "stripe_event_process", counting)

    # The reference: every event once, in Stripe's order.
    for event in ordered_events:
        assert _deliver(event) == 200
    assert applied.count(True) == EVENTS
    applied.clear()

    # Three deliveries of each event, shuffled; one event in ten has its three deliveries
    # made at the same moment by three threads.
    rng = random.Random(7)
    jobs: list[Callable[[], None]] = []
    bursts = 0

    def single(event: dict[str, Any]) -> Callable[[], None]:
        return lambda: statuses.append(_deliver(event))

    def burst(event: dict[str, Any]) -> Callable[[], None]:
        def one(go: Callable[[], object]) -> None:
            go()
            statuses.append(_deliver(event))

        def run() -> None:
            race([one] * 3)

        return run

    for event in events:
        if rng.random() < 0.1:
            jobs.append(burst(event))
            bursts += 1
        else:
            jobs.extend(single(event) for _ in range(3))
    rng.shuffle(jobs)

    assert _run_concurrently(jobs) == []

    assert bursts > 150
    assert statuses == [200] * (3 * EVENTS)
    # Each event stored once and applied once, whatever the order, repetitions and threads.
    stored = StripeEvent.objects.filter(event_id__startswith="evt_replay_shuffled_")
    assert stored.count() == EVENTS
    assert not stored.filter(processed_at__isnull=True).exists()
    assert applied.count(True) == EVENTS
    # Every kind of event took part.
    kinds = {event["type"] for event in events}
    assert {"invoice.paid", "invoice.payment_failed", "invoice.finalized"} <= kinds
    # The same final state as the events taken in order.
    assert _final_state(shuffled.pk) == _final_state(in_order.pk)
    # And that state is what the newest events say.
    newest = next(
        event for event in reversed(ordered_events) if event["type"].startswith("customer.")
    )
    item = newest["data"]["object"]["items"]["data"][0]
    plan = item["price"]["lookup_key"].split("_")[1]
    tenant = Tenant.objects.get(pk=shuffled.pk)
    assert (tenant.plan, tenant.seat_limit) == (
        plan,
        min(item["quantity"], plan_spec(plan).seat_limit),
    )
    # The revenue rollup, kept by concurrent transactions, equals a full recomputation.
    now = datetime.fromtimestamp(START + EVENTS + 60, tz=UTC)
    assert revenue_summary(now=now, months=2) == revenue_summary(now=now, months=2, recompute=True)
