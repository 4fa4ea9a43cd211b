"""Stripe's webhook endpoint and the staff revenue dashboard at scale.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    uv run python bench/billing.py --subscriptions 10000 --months 24 --events 2000

Into a fresh database (--database) it stores, as applied Stripe events, the history of
--subscriptions subscriptions started over --months months: each starts on a plan, interval
and currency, changes its seats and sometimes its plan, and one in five is canceled. The
revenue rollup is built from them with ``revenue_rebuild`` (the path a restore takes; timed).
Then, with the ``StripeEvent`` table holding that history:

- **webhook**: --events signed events POSTed to ``/stripe/webhook/`` on the public host with
  Django's test client, every third one delivered a second time (answered as a duplicate);
  each is stored and put on Celery's broker (REDIS_URL), as in production. It prints the
  server time's median, p95 and p99 (the target: p99 under 200 ms). No worker takes the
  tasks: the queue is purged at the end.
- **staff revenue dashboard**: ``/staff/revenue/`` for a superuser (MRR, ARR, paying
  workspaces, trials, conversion, churn and net revenue retention over the months), N times:
  median, p95, the p95 of its database time, and its queries.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    bench_database,
    measure,
    nearest_rank,
    setup_django,
)

SECRET = "whsec_bench_rapport"  # noqa: S105 - the benchmark database's own endpoint secret
MONTH = 30 * 24 * 3600


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="bench_billing")
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--events", type=int, default=2_000, help="webhook deliveries to time")
    parser.add_argument("--requests", type=int, default=20, help="dashboard requests to time")
    return parser.parse_args()


def subscription_event(
    event_id: str, kind: str, created: int, subscription: str, state: dict[str, Any]
) -> dict[str, Any]:
    """A ``customer.subscription.*`` event in the shape Stripe sends."""
    from billing.plans import DEFAULT_CURRENCY, plan_spec, price_lookup_key

    plan, interval, currency = state["plan"], state["interval"], state["currency"]
    # One Price in every currency: it shows its default currency's amount (ADR 0084).
    amount = plan_spec(plan).price(currency=DEFAULT_CURRENCY, interval=interval).amount
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created,
        "data": {
            "object": {
                "id": subscription,
                "object": "subscription",
                "customer": state["customer"],
                "currency": currency.lower(),
                "status": state["status"],
                "items": {
                    "data": [
                        {
                            "quantity": state["seats"],
                            "price": {
                                "lookup_key": price_lookup_key(plan=plan, interval=interval),
                                "currency": DEFAULT_CURRENCY.lower(),
                                "unit_amount": int(amount * 100),
                                "recurring": {"interval": interval},
                            },
                        }
                    ]
                },
            }
        },
    }


def history(count: int, months: int, now: int) -> list[dict[str, Any]]:
    """Every subscription's events, oldest first: created (trialing or active), then seat and
    plan changes, payment trouble and, for one in five, the cancellation."""
    from billing.plans import CURRENCIES, PLANS, Interval

    rng = random.Random(7)
    plans = [spec.code for spec in PLANS]
    events: list[dict[str, Any]] = []
    for n in range(count):
        subscription = f"sub_bench{n:07d}"
        at = now - rng.randint(1, months) * MONTH + rng.randint(0, MONTH - 1)
        state: dict[str, Any] = {
            "customer": f"cus_bench{n:07d}",
            "status": rng.choice(["trialing", "active", "active"]),
            "plan": rng.choice(plans),
            "interval": rng.choice(list(Interval.values)),
            "currency": rng.choice(list(CURRENCIES)),
            "seats": rng.randint(1, 40),
        }
        kind = "customer.subscription.created"
        while at < now:
            events.append(
                subscription_event(f"evt_{n:07d}_{len(events)}", kind, at, subscription, state)
            )
            if kind == "customer.subscription.deleted":
                break
            at += rng.randint(7, 90) * 24 * 3600
            kind = "customer.subscription.updated"
            roll = rng.random()
            state = dict(state, status="active") if state["status"] != "active" else dict(state)
            if roll < 0.5:
                state["seats"] = max(1, state["seats"] + rng.randint(-3, 5))
            elif roll < 0.6:
                state["plan"] = rng.choice(plans)
            elif roll < 0.7:
                state["status"] = "past_due"
            elif roll < 0.75:
                kind = "customer.subscription.deleted"
                state["status"] = "canceled"
    return events


def seed(events: list[dict[str, Any]]) -> float:
    """Store the events as applied and build the rollup from them; the build's seconds."""
    from django.utils import timezone

    from billing.models import StripeEvent
    from billing.revenue_rollup import revenue_rebuild

    applied = timezone.now()
    for start in range(0, len(events), 5_000):
        StripeEvent.objects.bulk_create(
            StripeEvent(
                event_id=event["id"],
                type=event["type"],
                created=event["created"],
                payload=event,
                processed_at=applied,
            )
            for event in events[start : start + 5_000]
        )
    started = time.perf_counter()
    revenue_rebuild()
    return time.perf_counter() - started


def signature(body: str) -> str:
    at = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def time_webhooks(count: int, now: int) -> tuple[list[float], int]:
    """Server time of each delivery (ms), and how many answered 200."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    state = {
        "customer": "cus_unknown",
        "status": "active",
        "plan": "professional",
        "interval": "month",
        "currency": "USD",
        "seats": 5,
    }
    samples: list[float] = []
    answered = 0
    # One untimed delivery first, as ``measure`` does: it opens the broker connection.
    warm = json.dumps(
        subscription_event("evt_warm", "customer.subscription.updated", now, "sub_warm", state)
    )
    client.post(
        "/stripe/webhook/",
        warm,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature(warm),
    )
    for n in range(count):
        event = subscription_event(
            f"evt_webhook{n:07d}", "customer.subscription.updated", now, f"sub_hook{n}", state
        )
        body = json.dumps(event)
        for _delivery in range(2 if n % 3 == 0 else 1):
            started = time.perf_counter()
            response = client.post(
                "/stripe/webhook/",
                body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signature(body),
            )
            samples.append((time.perf_counter() - started) * 1000)
            answered += response.status_code == 200
    return samples, answered


def main() -> None:
    args = parse_args()
    setup_django(
        bench_database(args.database, fresh=True), pooled=True, STRIPE_WEBHOOK_SECRET=SECRET
    )
    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from billing.models import StripeEvent
    from billing.models_revenue import RevenueMonth, RevenueState
    from crm_platform.celery import app
    from tenants.models import User

    call_command("migrate_schemas", "--shared", verbosity=0)
    now = int(time.time())
    events = history(args.subscriptions, args.months, now)
    built = seed(events)
    print(
        f"{args.subscriptions:,} subscriptions over {args.months} months: {len(events):,} events;"
        f" rollup built in {built:.1f} s ({RevenueState.objects.count():,} states,"
        f" {RevenueMonth.objects.count():,} month rows)"
    )

    settings.DEBUG = False
    samples, answered = time_webhooks(args.events, now)
    print(
        f"webhook ({len(samples):,} deliveries of {args.events:,} events, {answered:,} answered"
        f" 200): median {statistics.median(samples):.1f} ms,"
        f" p95 {nearest_rank(samples, 95):.1f} ms, p99 {nearest_rank(samples, 99):.1f} ms"
        f" (target p99 < 200 ms); {StripeEvent.objects.count():,} events stored"
    )
    app.control.purge()

    staff = User.objects.create_superuser(email="staff@bench.example.com", password=None)
    TOTP.activate(staff, generate_totp_secret())
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff, backend="allauth.account.auth_backends.AuthenticationBackend")
    # What allauth records when a sign-in passes its password and TOTP steps (the admin and
    # the staff pages ask for both).
    session = client.session
    signed_in = time.time()
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": signed_in, "email": staff.email},
        {"method": "mfa", "at": signed_in, "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(staff.pk)
    session.save()
    median, p95_ms, database, queries = measure(client, "/staff/revenue/", args.requests)
    print(
        f"staff revenue dashboard: median {median:.1f} ms, p95 {p95_ms:.1f} ms,"
        f" database p95 {database:.1f} ms, {queries} queries"
    )


if __name__ == "__main__":
    main()
