"""Changing a live subscription from the billing page: seats bought and plans changed after a
preview from Stripe's invoice preview, downgrades waiting for the period's end, cancelling at
the period's end and resuming — against the local Stripe stand-in."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django_tenants.utils import schema_context

from billing.models import BillingAccount
from tenants import services
from tenants.audit.models import AuditEvent
from tenants.models import Plan, Tenant
from tenants.roles import Role
from tests.billing.conftest import LocalStripe, subscribe
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import PipelineFactory


@pytest.fixture
def paying(alpha: Workspace, synced_plans: LocalStripe) -> Workspace:
    """Alpha pays Professional monthly in EUR for its 7 seats (45.00 EUR a seat)."""
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        plan=Plan.TRIAL, seat_limit=10, billing_status=Tenant.BillingStatus.TRIAL_EXPIRED
    )
    alpha.tenant.refresh_from_db()
    subscribe(alpha, synced_plans)
    alpha.tenant.refresh_from_db()
    alpha.owner.tenant = alpha.tenant
    assert (alpha.tenant.plan, alpha.tenant.seat_limit) == (Plan.PROFESSIONAL, 7)
    return alpha


def _owner(workspace: Workspace) -> Client:
    return workspace_client(workspace.owner.user, workspace.tenant)


def _said(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _subscription(stand_in: LocalStripe, workspace: Workspace) -> dict[str, Any]:
    account = BillingAccount.objects.get(tenant=workspace.tenant)
    return dict(stand_in.get(f"/v1/subscriptions/{account.stripe_subscription_id}"))


def _item(stand_in: LocalStripe, workspace: Workspace) -> tuple[str, int]:
    item = _subscription(stand_in, workspace)["items"]["data"][0]
    return str(item["price"]["lookup_key"]), int(item["quantity"])


def _actions(workspace: Workspace) -> list[str]:
    with schema_context(workspace.tenant.schema_name):
        return list(
            AuditEvent.objects.filter(action__startswith="billing.")
            .order_by("id")
            .values_list("action", flat=True)
        )


def test_the_billing_page_shows_the_subscription_and_its_next_invoice(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    body = _owner(paying).get("/billing/").content.decode()

    assert "Billing: Monthly" in body
    # The next period: 7 seats at 45.00 EUR, from Stripe's invoice preview.
    assert "Next invoice on" in body
    assert ": 315.00 EUR" in body
    assert 'data-testid="change-seats"' in body
    assert 'data-testid="change-to-enterprise"' in body
    assert 'data-testid="change-to-professional"' not in body  # the plan it is on
    assert 'data-testid="cancel-subscription"' in body


def test_buying_seats_shows_stripe_s_preview_first_and_changes_nothing_until_confirmed(
    paying: Workspace, synced_plans: LocalStripe
) -> None:

    page = _owner(paying).get("/billing/seats/", {"seats": "9"})

    assert page.status_code == 200
    body = page.content.decode()
    # Prorated as Stripe does, to the second, moments after the period started: 7 seats'
    # unused time credited (-315.00) and 9 seats charged for it (405.00), then the next
    # period for 9 seats (405.00).
    assert '<dd data-testid="preview-proration">90.00 EUR</dd>' in body
    assert "<strong>495.00 EUR</strong>" in body
    assert 'name="seats" value="9"' in body
    assert _item(synced_plans, paying) == ("rapport_professional_month", 7)

    response = _owner(paying).post("/billing/seats/", {"seats": "9"})

    assert response.status_code == 302
    assert _said(response) == ["The workspace now pays for 9 seats."]
    assert _item(synced_plans, paying) == ("rapport_professional_month", 9)
    account = BillingAccount.objects.get(tenant=paying.tenant)
    assert account.seats_purchased == 9
    assert Tenant.objects.get(pk=paying.tenant.pk).seat_limit == 9
    assert _actions(paying)[-1] == "billing.seats_purchased"


def test_seats_bought_are_kept_when_a_member_leaves(
    paying: Workspace, synced_plans: LocalStripe, django_capture_on_commit_callbacks: Any
) -> None:
    assert _owner(paying).post("/billing/seats/", {"seats": "9"}).status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        services.member_deactivate(actor=paying.owner, member=paying.members[Role.MARKETER])

    assert _item(synced_plans, paying)[1] == 9


@pytest.mark.parametrize(
    ("seats", "message"),
    [
        ("", "Enter the number of seats as a whole number."),
        ("abc", "Enter the number of seats as a whole number."),
        ("-3", "Enter the number of seats as a whole number."),
        ("2.5", "Enter the number of seats as a whole number."),
        ("9" * 40, "Enter the number of seats as a whole number."),
        ("²", "Enter the number of seats as a whole number."),
        ("๙", "Enter the number of seats as a whole number."),
        ("九", "Enter the number of seats as a whole number."),
        ("<script>9</script>", "Enter the number of seats as a whole number."),
        ("9; DROP TABLE billing_billingaccount", "Enter the number of seats as a whole number."),
        ("0", "7 seats are in use: free some before paying for fewer."),
        ("6", "7 seats are in use: free some before paying for fewer."),
        ("101", "The Professional plan allows at most 100 seats."),
        ("7", "The workspace already pays for 7 seats."),
    ],
)
def test_a_bad_seat_count_is_refused_with_the_reason_and_nothing_changes(
    paying: Workspace, synced_plans: LocalStripe, seats: str, message: str
) -> None:

    preview = _owner(paying).get("/billing/seats/", {"seats": seats})

    assert preview.status_code == 302
    assert _said(preview) == [message]
    if seats != "7":
        confirm = _owner(paying).post("/billing/seats/", {"seats": seats})
        assert _said(confirm) == [message]
    assert _item(synced_plans, paying) == ("rapport_professional_month", 7)
    assert BillingAccount.objects.get(tenant=paying.tenant).seats_purchased == 0
    assert "billing.seats_purchased" not in _actions(paying)


def test_an_upgrade_is_previewed_then_takes_effect_at_once(
    paying: Workspace, synced_plans: LocalStripe
) -> None:

    page = _owner(paying).get("/billing/plan/", {"plan": "enterprise", "interval": "month"})

    body = page.content.decode()
    assert page.status_code == 200
    assert "Enterprise, billed Monthly" in body
    assert "The change takes effect now" in body
    assert "322.00 EUR" in body  # 7 x 91.00 - 7 x 45.00 credited
    assert Tenant.objects.get(pk=paying.tenant.pk).plan == Plan.PROFESSIONAL

    response = _owner(paying).post("/billing/plan/", {"plan": "enterprise", "interval": "month"})

    assert _said(response) == ["Your plan has changed."]
    assert Tenant.objects.get(pk=paying.tenant.pk).plan == Plan.ENTERPRISE
    assert _item(synced_plans, paying) == ("rapport_enterprise_month", 7)
    assert _actions(paying)[-1] == "billing.plan_changed"

    # Clicked again: already done, nothing more at Stripe.
    again = _owner(paying).post("/billing/plan/", {"plan": "enterprise", "interval": "month"})
    assert _said(again) == ["The workspace is already on this plan."]
    assert _item(synced_plans, paying) == ("rapport_enterprise_month", 7)


def test_a_downgrade_waits_for_the_end_of_the_period_and_can_be_withdrawn(
    paying: Workspace, synced_plans: LocalStripe
) -> None:

    page = _owner(paying).get("/billing/plan/", {"plan": "starter", "interval": "month"})

    body = page.content.decode()
    assert "when the period already paid ends" in body
    assert "98.00 EUR" in body  # the next period at 7 x 14.00, nothing prorated
    response = _owner(paying).post("/billing/plan/", {"plan": "starter", "interval": "month"})

    assert _said(response) == ["Your plan will change when the current period ends."]
    assert Tenant.objects.get(pk=paying.tenant.pk).plan == Plan.PROFESSIONAL
    assert _item(synced_plans, paying) == ("rapport_professional_month", 7)
    account = BillingAccount.objects.get(tenant=paying.tenant)
    assert (account.scheduled_plan, account.scheduled_interval) == ("starter", "month")
    schedule = synced_plans.get(f"/v1/subscription_schedules/{account.stripe_schedule_id}")
    assert schedule["status"] == "active"
    assert schedule["phases"][1]["items"] == [
        {
            "price": synced_plans.get("/v1/prices", lookup_keys=["rapport_starter_month"])["data"][
                0
            ]["id"],
            "quantity": 7,
        }
    ]
    assert "Changes to Starter on" in _owner(paying).get("/billing/").content.decode()
    assert _actions(paying)[-1] == "billing.plan_change_scheduled"

    withdrawn = _owner(paying).post("/billing/plan/withdraw/")

    assert _said(withdrawn) == ["The planned plan change was withdrawn."]
    released = synced_plans.get(f"/v1/subscription_schedules/{account.stripe_schedule_id}")
    assert released["status"] == "released"
    account.refresh_from_db()
    assert (account.stripe_schedule_id, account.scheduled_plan) == ("", "")
    assert _actions(paying)[-1] == "billing.plan_change_withdrawn"


def test_a_planned_downgrade_takes_effect_when_the_period_renews(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    assert (
        _owner(paying).post("/billing/plan/", {"plan": "starter", "interval": "month"}).status_code
        == 302
    )
    subscription_id = BillingAccount.objects.get(tenant=paying.tenant).stripe_subscription_id
    synced_plans.deliver()

    synced_plans.post(f"/_config/subscriptions/{subscription_id}/renew", {})
    delivered = synced_plans.deliver()

    assert "customer.subscription.updated" in delivered
    tenant = Tenant.objects.get(pk=paying.tenant.pk)
    assert (tenant.plan, tenant.seat_limit, tenant.billing_status) == (
        Plan.STARTER,
        7,
        Tenant.BillingStatus.ACTIVE,
    )
    account = BillingAccount.objects.get(tenant=paying.tenant)
    assert (account.stripe_schedule_id, account.scheduled_plan) == ("", "")
    invoices = synced_plans.get("/v1/invoices", customer=account.stripe_customer_id)["data"]
    # The first period at Professional's price, the new one at Starter's.
    assert sorted(invoice["total"] for invoice in invoices) == [7 * 1400, 7 * 4500]


def test_a_downgrade_that_would_break_a_limit_is_refused_with_the_reason(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    with schema_context(paying.tenant.schema_name):
        PipelineFactory.create()
        PipelineFactory.create()

    preview = _owner(paying).get("/billing/plan/", {"plan": "starter", "interval": "month"})
    confirm = _owner(paying).post("/billing/plan/", {"plan": "starter", "interval": "month"})

    with schema_context(paying.tenant.schema_name):
        from crm_modules.sales.models import Pipeline

        pipelines = Pipeline.objects.filter(archived_at__isnull=True).count()
    expected = f"Pipelines: the Starter plan allows 1, the workspace has {pipelines}."
    assert _said(preview) == [expected]
    assert _said(confirm) == [expected]
    account = BillingAccount.objects.get(tenant=paying.tenant)
    assert account.stripe_schedule_id == ""
    assert _item(synced_plans, paying) == ("rapport_professional_month", 7)


def test_a_downgrade_below_the_seats_in_use_is_refused(
    paying: Workspace, synced_plans: LocalStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billing.plans import Limit, plan_spec

    monkeypatch.setitem(plan_spec(Plan.STARTER).limits, Limit.SEATS, 5)

    response = _owner(paying).post("/billing/plan/", {"plan": "starter", "interval": "month"})

    assert _said(response) == ["The Starter plan allows at most 5 seats; 7 are in use."]
    assert BillingAccount.objects.get(tenant=paying.tenant).stripe_schedule_id == ""


@pytest.mark.parametrize(
    ("plan", "interval", "message"),
    [
        ("platinum", "month", "Choose one of the plans offered."),
        ("", "month", "Choose one of the plans offered."),
        ("trial", "month", "Choose one of the plans offered."),
        ("enterprise", "week", "Choose monthly or annual billing."),
        ("professional", "month", "The workspace is already on this plan."),
    ],
)
def test_a_bad_plan_choice_is_refused_with_the_reason(
    paying: Workspace, synced_plans: LocalStripe, plan: str, interval: str, message: str
) -> None:

    assert _said(_owner(paying).get("/billing/plan/", {"plan": plan, "interval": interval})) == [
        message
    ]
    assert _said(_owner(paying).post("/billing/plan/", {"plan": plan, "interval": interval})) == [
        message
    ]
    assert _item(synced_plans, paying) == ("rapport_professional_month", 7)


def test_cancel_at_the_period_end_then_resume(paying: Workspace, synced_plans: LocalStripe) -> None:

    cancelled = _owner(paying).post("/billing/cancel/")

    assert _said(cancelled) == ["The subscription will end with the current period."]
    assert _subscription(synced_plans, paying)["cancel_at_period_end"] is True
    body = _owner(paying).get("/billing/").content.decode()
    assert "Ends on" in body
    assert 'data-testid="resume"' in body
    assert 'data-testid="change-seats"' not in body
    # The workspace keeps working until then.
    assert Tenant.objects.get(pk=paying.tenant.pk).billing_status == "active"
    refused = _owner(paying).get("/billing/seats/", {"seats": "9"})
    assert _said(refused) == [
        "The subscription ends with this period; resume it before changing it."
    ]
    assert _said(_owner(paying).post("/billing/cancel/")) == [
        "The subscription is already set to end with this period."
    ]

    resumed = _owner(paying).post("/billing/resume/")

    assert _said(resumed) == ["The subscription will renew as before."]
    assert _subscription(synced_plans, paying)["cancel_at_period_end"] is False
    assert BillingAccount.objects.get(tenant=paying.tenant).cancel_at_period_end is False
    assert _actions(paying)[-2:] == [
        "billing.subscription_cancel_scheduled",
        "billing.subscription_resumed",
    ]


def test_a_cancelled_subscription_ends_with_its_period(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    assert (
        _owner(paying).post("/billing/plan/", {"plan": "starter", "interval": "month"}).status_code
        == 302
    )
    schedule = BillingAccount.objects.get(tenant=paying.tenant).stripe_schedule_id

    _owner(paying).post("/billing/cancel/")
    # The planned downgrade has no period left to wait for.
    assert synced_plans.get(f"/v1/subscription_schedules/{schedule}")["status"] == "released"
    subscription_id = BillingAccount.objects.get(tenant=paying.tenant).stripe_subscription_id
    synced_plans.deliver()
    synced_plans.post(f"/_config/subscriptions/{subscription_id}/renew", {})

    assert "customer.subscription.deleted" in synced_plans.deliver()
    tenant = Tenant.objects.get(pk=paying.tenant.pk)
    assert tenant.billing_status == Tenant.BillingStatus.CANCELED
    assert tenant.is_read_only is True


def test_stripe_down_changes_nothing_and_says_so(
    paying: Workspace, synced_plans: LocalStripe, settings: Any
) -> None:
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    down = "Stripe could not be reached, so nothing was changed or charged. Try again shortly."

    assert _said(_owner(paying).get("/billing/seats/", {"seats": "9"})) == [down]
    assert _said(_owner(paying).post("/billing/seats/", {"seats": "9"})) == [down]
    assert _said(
        _owner(paying).post("/billing/plan/", {"plan": "enterprise", "interval": "month"})
    ) == [down]
    assert _said(_owner(paying).post("/billing/cancel/")) == [down]

    settings.STRIPE_API_BASE = base
    account = BillingAccount.objects.get(tenant=paying.tenant)
    assert (account.seats_purchased, account.cancel_at_period_end) == (0, False)
    assert Tenant.objects.get(pk=paying.tenant.pk).plan == Plan.PROFESSIONAL
    assert _item(synced_plans, paying) == ("rapport_professional_month", 7)
    assert _subscription(synced_plans, paying)["cancel_at_period_end"] is False


def test_without_a_subscription_nothing_can_be_changed(alpha: Workspace) -> None:
    expected = ["This workspace has no subscription to change; choose a plan first."]

    assert _said(_owner(alpha).get("/billing/seats/", {"seats": "9"})) == expected
    assert _said(
        _owner(alpha).post("/billing/plan/", {"plan": "enterprise", "interval": "month"})
    ) == (expected)
    assert _said(_owner(alpha).post("/billing/cancel/")) == expected
    assert not BillingAccount.objects.filter(tenant=alpha.tenant).exists()


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES_REP, Role.READ_ONLY])
def test_members_without_the_billing_capability_cannot_change_the_subscription(
    paying: Workspace, synced_plans: LocalStripe, role: str
) -> None:
    client = workspace_client(paying.members[role].user, paying.tenant)

    for url, data in (
        ("/billing/seats/", {"seats": "9"}),
        ("/billing/plan/", {"plan": "enterprise", "interval": "month"}),
        ("/billing/cancel/", {}),
    ):
        assert client.post(url, data).status_code == 403

    assert _item(synced_plans, paying) == ("rapport_professional_month", 7)
    assert _subscription(synced_plans, paying)["cancel_at_period_end"] is False


def _half_up(numerator: int, denominator: int) -> int:
    return int((Decimal(numerator) / denominator).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(("seats", "elapsed"), [(9, 0.5), (5, 0.25), (12, 0.9)])
def test_the_stand_in_prorates_a_seat_change_to_the_second_as_stripe_does(
    paying: Workspace, synced_plans: LocalStripe, seats: int, elapsed: float
) -> None:
    subscription = _subscription(synced_plans, paying)
    item = subscription["items"]["data"][0]
    start, end = int(item["current_period_start"]), int(item["current_period_end"])
    at = start + int((end - start) * elapsed)
    remaining, length = end - at, end - start

    preview = synced_plans.post(
        "/v1/invoices/create_preview",
        {
            "customer": subscription["customer"],
            "subscription": subscription["id"],
            "subscription_details[items][0][id]": item["id"],
            "subscription_details[items][0][quantity]": str(seats),
            "subscription_details[proration_date]": str(at),
        },
    )

    prorations = sorted(line["amount"] for line in preview["lines"]["data"] if line["proration"])
    credit = -_half_up(7 * 4500 * remaining, length)
    charge = _half_up(seats * 4500 * remaining, length)
    assert prorations == sorted([credit, charge])
    assert preview["total"] == credit + charge + seats * 4500
    # A preview leaves nothing behind: no pending item, the subscription unchanged.
    pending = synced_plans.get("/v1/invoiceitems", customer=subscription["customer"])["data"]
    assert pending == []
    assert _item(synced_plans, paying) == ("rapport_professional_month", 7)


def test_without_prorations_the_preview_is_the_next_period_alone(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    subscription = _subscription(synced_plans, paying)
    item = subscription["items"]["data"][0]

    preview = synced_plans.post(
        "/v1/invoices/create_preview",
        {
            "customer": subscription["customer"],
            "subscription": subscription["id"],
            "subscription_details[items][0][id]": item["id"],
            "subscription_details[items][0][quantity]": "9",
            "subscription_details[proration_behavior]": "none",
        },
    )

    assert [line["proration"] for line in preview["lines"]["data"]] == [False]
    assert preview["total"] == 9 * 4500


def test_a_seat_change_leaves_stripe_s_prorations_for_the_next_invoice(
    paying: Workspace, synced_plans: LocalStripe
) -> None:
    assert _owner(paying).post("/billing/seats/", {"seats": "9"}).status_code == 302

    account = BillingAccount.objects.get(tenant=paying.tenant)
    pending = synced_plans.get("/v1/invoiceitems", customer=account.stripe_customer_id)["data"]
    amounts = sorted(item["amount"] for item in pending if item["proration"])
    # Moments after the period started: (almost) the whole period of 7 seats credited and
    # of 9 seats charged.
    assert len(amounts) == 2
    assert -7 * 4500 <= amounts[0] <= -7 * 4500 + 5
    assert 9 * 4500 - 5 <= amounts[1] <= 9 * 4500
    body = _owner(paying).get("/billing/").content.decode()
    assert f": {(9 * 4500 + sum(amounts)) / 100:.2f} EUR" in body
