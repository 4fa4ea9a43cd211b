"""The staff revenue dashboard: figures computed from the stored Stripe events and the
workspaces' billing state, and a page only platform staff (superusers signed in with two-factor
authentication) can see on the public host; anyone else gets 404."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from billing.models import BillingAccount
from billing.plans import price_choice
from billing.revenue import revenue_summary
from billing.revenue_rollup import revenue_rebuild
from tenants.models import Tenant
from tests.billing.conftest import post_event
from tests.conftest import Workspace, public_client
from tests.factories import UserFactory
from tests.platform.staff import staff_client, superuser

ALPHA = "cus_revenue_alpha"
BRAVO = "cus_revenue_bravo"
NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
PAGE = "/staff/revenue/"


def _at(*args: int) -> int:
    year, month, day = args
    return int(datetime(year, month, day, tzinfo=UTC).timestamp())


def _subscription_event(
    event_id: str,
    *,
    kind: str,
    created: int,
    customer: str,
    status: str,
    lookup_key: str,
    unit_amount: int,
    interval: str,
    quantity: int,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": f"customer.subscription.{kind}",
        "created": created,
        "data": {
            "object": {
                "object": "subscription",
                "id": f"sub_{customer}",
                "customer": customer,
                "status": status,
                "cancel_at_period_end": False,
                "items": {
                    "data": [
                        {
                            "price": {
                                "lookup_key": lookup_key,
                                "unit_amount": unit_amount,
                                "recurring": {"interval": interval},
                            },
                            "quantity": quantity,
                        }
                    ]
                },
            }
        },
    }


@pytest.fixture
def history(alpha: Workspace, bravo: Workspace) -> None:
    """Alpha pays for Professional monthly in EUR (5 seats at 30.00, then 8) and cancels in
    March; Bravo's Starter annual in USD (3 seats at 120.00 a year) goes from trial to past
    due with a failed invoice of 360.00."""
    Tenant.objects.filter(pk=alpha.tenant.pk).update(activated_at=datetime(2026, 1, 3, tzinfo=UTC))
    Tenant.objects.filter(pk=bravo.tenant.pk).update(activated_at=datetime(2026, 2, 1, tzinfo=UTC))
    BillingAccount.objects.create(tenant=alpha.tenant, stripe_customer_id=ALPHA)
    BillingAccount.objects.create(tenant=bravo.tenant, stripe_customer_id=BRAVO)
    professional: dict[str, Any] = {
        "lookup_key": "rapport_professional_month_eur",
        "unit_amount": 3000,
    }
    starter: dict[str, Any] = {"lookup_key": "rapport_starter_year_usd", "unit_amount": 12000}
    events = [
        _subscription_event(
            "evt_rev_a1",
            kind="created",
            created=_at(2026, 1, 10),
            customer=ALPHA,
            status="active",
            interval="month",
            quantity=5,
            **professional,
        ),
        _subscription_event(
            "evt_rev_a2",
            kind="updated",
            created=_at(2026, 2, 5),
            customer=ALPHA,
            status="active",
            interval="month",
            quantity=8,
            **professional,
        ),
        _subscription_event(
            "evt_rev_a3",
            kind="deleted",
            created=_at(2026, 3, 2),
            customer=ALPHA,
            status="canceled",
            interval="month",
            quantity=8,
            **professional,
        ),
        _subscription_event(
            "evt_rev_b1",
            kind="created",
            created=_at(2026, 1, 20),
            customer=BRAVO,
            status="trialing",
            interval="year",
            quantity=3,
            **starter,
        ),
        _subscription_event(
            "evt_rev_b2",
            kind="updated",
            created=_at(2026, 2, 10),
            customer=BRAVO,
            status="past_due",
            interval="year",
            quantity=3,
            **starter,
        ),
        {
            "id": "evt_rev_b3",
            "object": "event",
            "type": "invoice.payment_failed",
            "created": _at(2026, 2, 10),
            "data": {
                "object": {
                    "object": "invoice",
                    "id": "in_rev_b",
                    "customer": BRAVO,
                    "amount_due": 36000,
                    "currency": "usd",
                }
            },
        },
    ]
    for event in events:
        assert post_event(event) == 200


def test_mrr_arr_seats_and_past_due_now(history: None, bravo: Workspace) -> None:
    revenue = revenue_summary(now=NOW, months=3)

    assert revenue.mrr == {"USD": Decimal("30.00")}
    assert revenue.arr == {"USD": Decimal("360.00")}
    assert revenue.paying == 1
    assert revenue.seats_by_plan == {"starter": 3}
    assert [(row.tenant.pk, row.status, row.amount, row.currency) for row in revenue.past_due] == [
        (bravo.tenant.pk, "past_due", Decimal("360.00"), "USD")
    ]


def test_months_net_new_churn_and_trials(history: None) -> None:
    months = revenue_summary(now=NOW, months=3).months

    assert [month.start for month in months] == [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    ]
    assert [month.mrr for month in months] == [
        {"EUR": Decimal("150.00")},
        {"EUR": Decimal("240.00"), "USD": Decimal("30.00")},
        {"USD": Decimal("30.00")},
    ]
    assert [month.net_new for month in months] == [
        {"EUR": Decimal("150.00")},
        {"EUR": Decimal("90.00"), "USD": Decimal("30.00")},
        {"EUR": Decimal("-240.00"), "USD": Decimal("0.00")},
    ]
    assert [month.churned_logos for month in months] == [0, 0, 1]
    assert [month.churned_mrr for month in months] == [{}, {}, {"EUR": Decimal("240.00")}]
    assert [month.revenue_churn for month in months] == [{}, {}, {"EUR": Decimal("100.0")}]
    # No one paid at the start of January; both paid at the start of March, one left.
    assert [month.logo_churn for month in months] == [None, Decimal("0.0"), Decimal("50.0")]
    # Alpha's trial (January) became paid; Bravo's (February) never was active.
    assert [(month.trials_started, month.trials_converted) for month in months] == [
        (1, 1),
        (1, 0),
        (0, 0),
    ]


def test_trials_running_now_are_the_active_workspaces_whose_trial_is_not_over(
    alpha: Workspace, bravo: Workspace
) -> None:
    from datetime import timedelta

    ours = Tenant.objects.filter(pk__in=[alpha.tenant.pk, bravo.tenant.pk])
    ours.update(billing_status=Tenant.BillingStatus.ACTIVE)
    others = revenue_summary(now=NOW, months=1).trials_running

    ours.update(billing_status=Tenant.BillingStatus.TRIALING, trial_ends_at=NOW + timedelta(days=5))
    assert revenue_summary(now=NOW, months=1).trials_running == others + 2
    # A trial whose end has passed (before the sweep marks it) and a suspended workspace are
    # not running trials.
    Tenant.objects.filter(pk=bravo.tenant.pk).update(trial_ends_at=NOW - timedelta(minutes=1))
    assert revenue_summary(now=NOW, months=1).trials_running == others + 1
    Tenant.objects.filter(pk=alpha.tenant.pk).update(state=Tenant.State.SUSPENDED)
    assert revenue_summary(now=NOW, months=1).trials_running == others


def test_a_payment_recovered_leaves_no_amount_due(history: None, bravo: Workspace) -> None:
    assert (
        post_event(
            {
                "id": "evt_rev_b4",
                "object": "event",
                "type": "invoice.paid",
                "created": _at(2026, 2, 12),
                "data": {"object": {"object": "invoice", "id": "in_rev_b", "customer": BRAVO}},
            }
        )
        == 200
    )

    assert Tenant.objects.get(pk=bravo.tenant.pk).billing_status == "active"
    assert revenue_summary(now=NOW, months=3).past_due == []


def test_nothing_recorded_gives_empty_figures(alpha: Workspace) -> None:
    revenue = revenue_summary(now=NOW, months=2)

    assert revenue.mrr == {}
    assert revenue.arr == {}
    assert revenue.paying == 0
    assert revenue.seats_by_plan == {}
    assert revenue.past_due == []
    assert [(month.mrr, month.net_new, month.churned_logos) for month in revenue.months] == [
        ({}, {}, 0),
        ({}, {}, 0),
    ]


def _priced(event: dict[str, Any], *, billed_in: str, **price: Any) -> dict[str, Any]:
    """The event as Stripe sends it since ADR 0084: the subscription names its currency and
    its item the one Price of the plan and interval, shown in its default currency (USD)."""
    subscription = event["data"]["object"]
    subscription["currency"] = billed_in
    subscription["items"]["data"][0]["price"].update(currency="usd", **price)
    return event


def test_the_rollup_reads_per_currency_prices_of_before_and_multi_currency_prices_alike(
    db: None,
) -> None:
    common: dict[str, Any] = {"kind": "created", "created": _at(2026, 3, 1), "status": "active"}
    events = [
        # Before ADR 0084: one Price per currency, the currency in its lookup key (30.00 EUR).
        _subscription_event(
            "evt_cur_old",
            customer="cus_cur_old",
            lookup_key="rapport_professional_month_eur",
            unit_amount=3000,
            interval="month",
            quantity=2,
            **common,
        ),
        # Now: the EUR amount among the Price's currency_options, when the event shows them...
        _priced(
            _subscription_event(
                "evt_cur_options",
                customer="cus_cur_options",
                lookup_key="rapport_professional_month",
                unit_amount=4900,
                interval="month",
                quantity=3,
                **common,
            ),
            billed_in="eur",
            currency_options={"eur": {"unit_amount": 4000}, "usd": {"unit_amount": 4900}},
        ),
        # ... else the plan's (Starter annual: 14.00 EUR x 10 months a seat)...
        _priced(
            _subscription_event(
                "evt_cur_plain",
                customer="cus_cur_plain",
                lookup_key="rapport_starter_year",
                unit_amount=15000,
                interval="year",
                quantity=3,
                **common,
            ),
            billed_in="eur",
        ),
        # ... and the Price's own amount for a subscription in its default currency.
        _priced(
            _subscription_event(
                "evt_cur_usd",
                customer="cus_cur_usd",
                lookup_key="rapport_enterprise_month",
                unit_amount=9900,
                interval="month",
                quantity=1,
                **common,
            ),
            billed_in="usd",
        ),
    ]
    for event in events:
        assert post_event(event) == 200

    revenue = revenue_summary(now=NOW, months=1)

    # 2 x 30.00 + 3 x 40.00 + 3 x 140.00 / 12 in EUR; 99.00 in USD.
    assert revenue.mrr == {"EUR": Decimal("215.00"), "USD": Decimal("99.00")}
    assert revenue.seats_by_plan == {"professional": 5, "starter": 3, "enterprise": 1}
    assert revenue_summary(now=NOW, months=1, recompute=True).mrr == revenue.mrr


def test_staff_see_the_dashboard_with_its_figures(history: None) -> None:
    response = staff_client().get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="mrr-USD">30.00 USD<' in html
    assert 'data-testid="arr-USD">360.00 USD<' in html
    assert 'data-testid="mrr-EUR"' not in html
    assert 'data-testid="paying">1<' in html
    assert 'data-testid="trials-running">' in html
    assert html.count('data-testid="past-due-row"') == 1
    assert '<td data-label="Amount due">360.00 USD</td>' in html
    for key in ("mrr", "net-new", "churn", "trials", "seats"):
        assert f'id="figure-{key}"' in html
    # Plotly comes from our own static files; the page has no inline script of its own.
    assert 'src="/static/vendor/plotly/plotly.min.js"' in html
    assert "<script>" not in html


def test_the_dashboard_is_not_found_for_anyone_else(history: None, alpha: Workspace) -> None:
    clients = {
        "anonymous": public_client(),
        "workspace owner": public_client(alpha.owner.user),
        "staff, not superuser": public_client(
            UserFactory.create(is_staff=True, is_superuser=False)
        ),
        "superuser without two-factor": staff_client(superuser(mfa=False)),
        "superuser not signed in with two-factor": staff_client(signed_in_with_mfa=False),
    }
    for who, client in clients.items():
        assert client.get(PAGE).status_code == 404, who
        assert client.post(PAGE).status_code == 404, who


def test_staff_cannot_post_to_the_dashboard(history: None) -> None:
    assert staff_client().post(PAGE).status_code == 405


def test_the_staff_admin_links_to_the_dashboard(db: None) -> None:
    html = staff_client().get("/admin/").content.decode()

    assert 'href="/staff/revenue/" data-testid="staff-revenue-link"' in html


def test_the_rollup_equals_a_full_recomputation_whatever_the_order(
    alpha: Workspace, bravo: Workspace
) -> None:
    """Six subscriptions over a year, in two currencies and both intervals, changing seats,
    plans and status, canceled and started again; their events delivered shuffled and some
    twice. The rollup kept as they arrived gives the figures a full recomputation gives, and
    so does the rollup made again from the stored events."""
    rng = random.Random(42)
    plans = [
        ("rapport_starter_month_usd", 1500),
        ("rapport_professional_month_eur", 4500),
        ("rapport_professional_year_usd", 45000),
        ("rapport_enterprise_year_eur", 90000),
    ]
    start = _at(2025, 4, 1)
    events = []
    for number in range(6):
        customer = f"cus_rollup_{number}"
        at = start + rng.randint(0, 40 * 86400)
        for step in range(rng.randint(3, 12)):
            lookup_key, unit = rng.choice(plans)
            status = rng.choice(["active", "active", "trialing", "past_due", "unpaid"])
            kind = "created" if step == 0 else rng.choice(["updated", "updated", "deleted"])
            events.append(
                _subscription_event(
                    f"evt_rollup_{number}_{step:02d}",
                    kind=kind,
                    created=at,
                    customer=customer,
                    status="canceled" if kind == "deleted" else status,
                    lookup_key=lookup_key,
                    unit_amount=unit,
                    interval=lookup_key.split("_")[2],
                    quantity=rng.randint(1, 30),
                )
            )
            # Sometimes two events of one subscription in the same second.
            at += rng.choice([0, 3600, 86400 * rng.randint(1, 45)])
    deliveries = events + rng.sample(events, len(events) // 3)
    rng.shuffle(deliveries)
    for event in deliveries:
        assert post_event(event) == 200
    now = datetime(2026, 6, 30, 23, tzinfo=UTC)

    kept = revenue_summary(now=now, months=15)
    recomputed = revenue_summary(now=now, months=15, recompute=True)
    revenue_rebuild()
    rebuilt = revenue_summary(now=now, months=15)

    assert kept == recomputed
    assert rebuilt == recomputed
    assert any(month.churned_logos for month in kept.months)
    assert len({currency for month in kept.months for currency in month.mrr}) == 2


def test_the_dashboard_reads_the_rollup_in_a_constant_number_of_queries(history: None) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(months: int) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            revenue_summary(now=NOW, months=months)
        # django-tenants sets the search path before each statement; those are not reads.
        return [q["sql"] for q in captured if not q["sql"].startswith("SET search_path")]

    # The rollup, the accounts, the converted customers, the activated workspaces and the
    # past-due invoices: one read each, whatever the number of months shown.
    assert len(statements(12)) <= 6
    assert len(statements(24)) == len(statements(3))


def _paying(
    event_id: str,
    customer: str,
    at: int,
    seats: int,
    *,
    kind: str = "updated",
    status: str = "active",
    plan: tuple[str, int, str] = ("rapport_professional_month_eur", 3000, "month"),
) -> dict[str, Any]:
    lookup_key, unit_amount, interval = plan
    return _subscription_event(
        event_id,
        kind=kind,
        created=at,
        customer=customer,
        status="canceled" if kind == "deleted" else status,
        lookup_key=lookup_key,
        unit_amount=unit_amount,
        interval=interval,
        quantity=seats,
    )


@pytest.fixture
def cohorts(db: None) -> None:
    """Professional monthly in EUR at 30.00 a seat, and one Starter annual customer in USD:

    - expands: 5 seats (150.00) from 10 February 2025, 8 seats (240.00) from 5 November;
    - contracts: 10 seats (300.00) from 5 March 2025, 6 seats (180.00) from 10 January 2026;
    - churns: 4 seats (120.00) from 15 January 2025, canceled on 1 September 2025;
    - new: 20 seats (600.00) from 1 June 2025, after every cohort's start;
    - trial: trialing from 20 March 2025, paying 3 seats (90.00) from 20 April 2025: not paying
      at the start of the window ending now;
    - USD: 3 seats at 120.00 a year (30.00 a month) from 3 February 2025, unchanged.
    """
    usd = ("rapport_starter_year_usd", 12000, "year")
    events = [
        _paying("evt_nrr_up_1", "cus_nrr_up", _at(2025, 2, 10), 5, kind="created"),
        _paying("evt_nrr_up_2", "cus_nrr_up", _at(2025, 11, 5), 8),
        _paying("evt_nrr_down_1", "cus_nrr_down", _at(2025, 3, 5), 10, kind="created"),
        _paying("evt_nrr_down_2", "cus_nrr_down", _at(2026, 1, 10), 6),
        _paying("evt_nrr_gone_1", "cus_nrr_gone", _at(2025, 1, 15), 4, kind="created"),
        _paying("evt_nrr_gone_2", "cus_nrr_gone", _at(2025, 9, 1), 4, kind="deleted"),
        _paying("evt_nrr_new_1", "cus_nrr_new", _at(2025, 6, 1), 20, kind="created"),
        _paying(
            "evt_nrr_trial_1",
            "cus_nrr_trial",
            _at(2025, 3, 20),
            3,
            kind="created",
            status="trialing",
        ),
        _paying("evt_nrr_trial_2", "cus_nrr_trial", _at(2025, 4, 20), 3),
        _paying("evt_nrr_usd_1", "cus_nrr_usd", _at(2025, 2, 3), 3, kind="created", plan=usd),
    ]
    # Delivered out of order: the rollup orders each subscription's events itself.
    for event in reversed(events):
        assert post_event(event) == 200


def test_net_revenue_retention_of_the_last_12_months(cohorts: None) -> None:
    from billing.revenue import Retention

    revenue = revenue_summary(now=NOW, months=3)

    # Cohort: paying at the end of March 2025 — expands (150), contracts (300), churns (120).
    # Now: 240 + 180 + 0 = 420 of 570. The new customer (600) and the one still in its trial
    # then (90 now) are not in it.
    assert revenue.retention == {
        "EUR": Retention(
            customers=3,
            starting=Decimal("570.00"),
            expansion=Decimal("90.00"),
            contraction=Decimal("120.00"),
            churned=Decimal("120.00"),
            net=Decimal("73.7"),  # 420 / 570
            gross=Decimal("57.9"),  # (570 - 120 - 120) / 570
        ),
        "USD": Retention(
            customers=1,
            starting=Decimal("30.00"),
            expansion=Decimal("0.00"),
            contraction=Decimal("0.00"),
            churned=Decimal("0.00"),
            net=Decimal("100.0"),
            gross=Decimal("100.0"),
        ),
    }
    assert revenue.retention["EUR"].ending == Decimal("420.00")
    assert revenue.months[-1].retention == revenue.retention


def test_net_revenue_retention_by_month(cohorts: None) -> None:
    months = revenue_summary(now=NOW, months=3).months

    # January 2026: paying at the end of January 2025, only the customer who churned.
    january = months[0].retention
    assert list(january) == ["EUR"]
    assert (january["EUR"].customers, january["EUR"].starting, january["EUR"].churned) == (
        1,
        Decimal("120.00"),
        Decimal("120.00"),
    )
    assert (january["EUR"].net, january["EUR"].gross) == (Decimal("0.0"), Decimal("0.0"))
    # February 2026: at the end of February 2025 the expanding (150) and churning (120)
    # customers paid; a year later 240 of 270. The contracting one started on 5 March.
    february = months[1].retention
    assert (
        february["EUR"].customers,
        february["EUR"].starting,
        february["EUR"].expansion,
        february["EUR"].churned,
        february["EUR"].net,
        february["EUR"].gross,
    ) == (
        2,
        Decimal("270.00"),
        Decimal("90.00"),
        Decimal("120.00"),
        Decimal("88.9"),
        Decimal("55.6"),
    )
    assert (february["USD"].net, february["USD"].gross) == (Decimal("100.0"), Decimal("100.0"))
    assert (months[2].retention["EUR"].net, months[2].retention["EUR"].gross) == (
        Decimal("73.7"),
        Decimal("57.9"),
    )


def test_retention_from_the_rollup_equals_the_recomputation(cohorts: None) -> None:
    kept = revenue_summary(now=NOW, months=14)

    assert kept == revenue_summary(now=NOW, months=14, recompute=True)
    # Nobody paid before 15 January 2025: the windows ending before January 2026 (February
    # to December 2025) have no cohort.
    assert [bool(month.retention) for month in kept.months] == [False] * 11 + [True] * 3


def test_staff_see_net_revenue_retention(cohorts: None) -> None:
    from django.utils import timezone

    html = staff_client().get(PAGE).content.decode()

    shown = revenue_summary(now=timezone.now()).retention["EUR"]
    assert 'id="figure-retention"' in html
    assert f'data-testid="nrr-EUR">{shown.net} %<' in html
    assert f'data-testid="grr-EUR">{shown.gross} %<' in html
    assert 'data-testid="no-retention"' not in html


def test_no_cohort_no_retention(alpha: Workspace) -> None:
    revenue = revenue_summary(now=NOW, months=2)

    assert revenue.retention == {}
    assert [month.retention for month in revenue.months] == [{}, {}]


def test_a_price_replaced_by_a_new_amount_still_counts_for_its_subscribers(
    alpha: Workspace,
) -> None:
    """``stripe_sync_plans`` replaces a Price whose amount changed; the new one takes the lookup
    key and the old one's subscribers keep it. Their plan and revenue are read from the plan
    and interval the sync wrote in the old Price's metadata."""
    replaced = {"metadata": {"plan": "professional", "interval": "month"}, "lookup_key": None}
    event = _priced(
        _subscription_event(
            "evt_replaced_price",
            customer="cus_replaced_price",
            lookup_key="",
            unit_amount=3900,
            interval="month",
            quantity=4,
            kind="created",
            created=_at(2026, 3, 1),
            status="active",
        ),
        billed_in="usd",
        **replaced,
    )
    account = BillingAccount.objects.create(
        tenant=alpha.tenant,
        stripe_customer_id="cus_replaced_price",
        stripe_subscription_id="sub_cus_replaced_price",
        subscription_status="incomplete",
        subscription_version=0,
    )
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan="starter")

    assert post_event(event) == 200

    # 4 seats at the old Price's own 39.00 USD, not at the plan's current amount.
    assert revenue_summary(now=NOW, months=1).mrr == {"USD": Decimal("156.00")}
    assert revenue_summary(now=NOW, months=1, recompute=True).mrr == {"USD": Decimal("156.00")}
    account.refresh_from_db()
    assert Tenant.objects.get(pk=alpha.tenant.pk).plan == "professional"
    assert (account.interval, account.currency) == ("month", "USD")
    # A Price of someone else's, neither key nor metadata of ours, still counts for nothing.
    assert price_choice({"lookup_key": "", "metadata": {"plan": "gold"}}) is None
