"""Replay: 2,000 subscription events for one workspace, shuffled and each delivered three
times to the webhook endpoint (signed as Stripe signs them). Each is stored once and takes
effect once, and the final state is the one the events give in order."""

from __future__ import annotations

import random
from typing import Any

from billing import webhooks
from billing.models import BillingAccount, StripeEvent
from billing.plans import plan_spec
from tenants.models import Tenant
from tests.billing.conftest import post_event
from tests.conftest import Workspace

EVENTS = 2000
CUSTOMER = "cus_replay_alpha"


def _event(index: int, rng: random.Random) -> dict[str, Any]:
    plan = rng.choice(["starter", "professional", "enterprise"])
    interval = rng.choice(["month", "year"])
    status = rng.choice(["active", "active", "past_due", "trialing"])
    kind = "created" if index == 0 else "updated"
    return {
        "id": f"evt_replay_{index:04d}",
        "object": "event",
        "type": f"customer.subscription.{kind}",
        "created": 1_800_000_000 + index,
        "data": {
            "object": {
                "object": "subscription",
                "id": "sub_replay",
                "customer": CUSTOMER,
                "status": status,
                "cancel_at_period_end": index % 7 == 0,
                "items": {
                    "data": [
                        {
                            "price": {"lookup_key": f"rapport_{plan}_{interval}_eur"},
                            "quantity": rng.randint(1, 40),
                            "current_period_end": 1_800_100_000 + index,
                        }
                    ]
                },
            }
        },
    }


def test_2000_events_shuffled_and_repeated_end_in_the_in_order_state(
    alpha: Workspace, monkeypatch: Any
) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        plan="trial", seat_limit=10, billing_status=Tenant.BillingStatus.TRIALING
    )
    BillingAccount.objects.create(tenant=alpha.tenant, stripe_customer_id=CUSTOMER)
    rng = random.Random(20261202)
    events = [_event(index, rng) for index in range(EVENTS)]
    deliveries = [event for event in events for _ in range(3)]
    rng.shuffle(deliveries)
    applied: list[bool] = []
    process = webhooks.stripe_event_process

    def counting(*, event_id: str) -> bool:
        result = process(event_id=event_id)
        applied.append(result)
        return result

    monkeypatch.setattr(webhooks, "stripe_event_process", counting)

    statuses = [post_event(event) for event in deliveries]

    assert statuses == [200] * (3 * EVENTS)
    # Each event stored once and applied once, whatever the order and repetitions.
    assert StripeEvent.objects.filter(event_id__startswith="evt_replay_").count() == EVENTS
    assert not StripeEvent.objects.filter(processed_at__isnull=True).exists()
    assert applied.count(True) == EVENTS
    # The final state is what the last event (in Stripe's order) says.
    last = events[-1]["data"]["object"]
    item = last["items"]["data"][0]
    plan, interval = item["price"]["lookup_key"].split("_")[1:3]
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    expected_status = "past_due" if last["status"] == "past_due" else "active"
    assert (tenant.plan, tenant.seat_limit, tenant.billing_status) == (
        plan,
        min(item["quantity"], plan_spec(plan).seat_limit),
        expected_status,
    )
    account = BillingAccount.objects.get(tenant=alpha.tenant)
    assert (account.interval, account.currency) == (interval, "EUR")
    assert account.subscription_version == events[-1]["created"]
    assert account.cancel_at_period_end is last["cancel_at_period_end"]
