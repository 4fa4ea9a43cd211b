"""Subscribing through Stripe Checkout on the local Stripe stand-in: the workspace becomes
paying only from what Stripe reports (the session read on return, or the webhook), for the
seats in use; only members with the billing capability can start it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from billing.models import BillingAccount
from tenants.audit.models import AuditEvent
from tenants.models import Plan, Tenant
from tenants.roles import Role
from tests.billing.conftest import LocalStripe
from tests.conftest import Workspace, workspace_client


def _subscribe(client: Client, **fields: str) -> Any:
    data = {"plan": "professional", "interval": "month", "currency": "EUR", **fields}
    return client.post("/billing/subscribe/", data)


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _tenant(workspace: Workspace) -> Tenant:
    return Tenant.objects.get(pk=workspace.tenant.pk)


def test_subscribe_through_checkout_then_the_return_shows_the_paid_state(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    client = workspace_client(expired.owner.user, expired.tenant)

    response = _subscribe(client)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{synced_plans.base}/checkout/cs_test_")
    account = BillingAccount.objects.get(tenant=expired.tenant)
    customer = synced_plans.get(f"/v1/customers/{account.stripe_customer_id}")
    assert customer["metadata"] == {"tenant_id": str(expired.tenant.pk)}
    session_id = response["Location"].rsplit("/", 1)[1]
    session = synced_plans.get(f"/v1/checkout/sessions/{session_id}")
    assert session["amount_total"] == 7 * 4500  # seven seats in use at 45.00 EUR

    back = synced_plans.pay_checkout(response["Location"])

    # The redirect alone changes nothing: the workspace is still read-only here.
    assert _tenant(expired).billing_status == Tenant.BillingStatus.TRIAL_EXPIRED
    assert back.startswith(f"http://{expired.host}")
    assert back.endswith(f"/billing/return/?session_id={session_id}")

    page = client.get(_local(back), follow=True)

    tenant = _tenant(expired)
    assert (tenant.plan, tenant.seat_limit, tenant.billing_status) == (
        Plan.PROFESSIONAL,
        7,
        Tenant.BillingStatus.ACTIVE,
    )
    assert tenant.is_read_only is False
    body = page.content.decode()
    assert "Thank you: your subscription is in place." in body
    assert 'data-testid="subscribe-professional"' not in body  # no second subscription
    account.refresh_from_db()
    assert account.subscription_status == "active"
    with schema_context(tenant.schema_name):
        actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "billing.checkout_started" in actions
    assert "billing.subscription_changed" in actions

    # Stripe's webhooks arrive afterwards: they agree, and change nothing more.
    delivered = synced_plans.deliver()
    assert "checkout.session.completed" in delivered
    assert "customer.subscription.created" in delivered
    assert "invoice.paid" in delivered
    tenant = _tenant(expired)
    assert (tenant.plan, tenant.seat_limit, tenant.billing_status) == (
        Plan.PROFESSIONAL,
        7,
        Tenant.BillingStatus.ACTIVE,
    )


def test_the_webhook_alone_makes_the_workspace_paying(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    client = workspace_client(expired.owner.user, expired.tenant)
    response = _subscribe(client, plan="starter", interval="year", currency="USD")
    synced_plans.pay_checkout(response["Location"])  # the member never comes back

    synced_plans.deliver()

    tenant = _tenant(expired)
    assert (tenant.plan, tenant.seat_limit, tenant.billing_status) == (
        Plan.STARTER,
        7,
        Tenant.BillingStatus.ACTIVE,
    )


def test_a_double_click_opens_one_checkout_and_one_customer(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    client = workspace_client(expired.owner.user, expired.tenant)

    first = _subscribe(client)
    second = _subscribe(client)

    assert first["Location"] == second["Location"]
    assert BillingAccount.objects.filter(tenant=expired.tenant).count() == 1


def test_an_abandoned_checkout_leaves_the_workspace_as_it_was(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    client = workspace_client(expired.owner.user, expired.tenant)
    session_id = _subscribe(client)["Location"].rsplit("/", 1)[1]

    page = client.get(f"/billing/return/?session_id={session_id}", follow=True)

    assert "Your payment is not complete yet" in page.content.decode()
    assert _tenant(expired).billing_status == Tenant.BillingStatus.TRIAL_EXPIRED


def test_another_workspace_s_checkout_session_is_not_found(
    expired: Workspace, bravo: Workspace, synced_plans: LocalStripe
) -> None:
    bravo_client = workspace_client(bravo.owner.user, bravo.tenant)
    bravo_session = _subscribe(bravo_client)["Location"].rsplit("/", 1)[1]
    synced_plans.pay_checkout(f"{synced_plans.base}/checkout/{bravo_session}")
    client = workspace_client(expired.owner.user, expired.tenant)
    _subscribe(client)  # alpha has a customer of its own

    for session_id in (bravo_session, "cs_test_nonexistent", "../../v1/customers", ""):
        response = client.get("/billing/return/", {"session_id": session_id})
        assert response.status_code == 404, session_id
    assert _tenant(expired).billing_status == Tenant.BillingStatus.TRIAL_EXPIRED


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"plan": "platinum"}, "Choose one of the plans offered."),
        ({"plan": "trial"}, "Choose one of the plans offered."),
        ({"interval": "week"}, "Choose monthly or annual billing."),
        ({"currency": "GBP"}, "Choose one of the currencies offered."),
    ],
)
def test_bad_choices_are_refused_with_the_reason(
    expired: Workspace, synced_plans: LocalStripe, fields: dict[str, str], message: str
) -> None:
    client = workspace_client(expired.owner.user, expired.tenant)

    page = _subscribe(client, **fields)

    assert page.status_code == 302
    assert message in client.get("/billing/").content.decode()
    assert not BillingAccount.objects.filter(tenant=expired.tenant).exists()


def test_a_plan_whose_cap_is_below_the_seats_in_use_is_refused(
    expired: Workspace, synced_plans: LocalStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billing.plans import Limit, plan_spec

    monkeypatch.setitem(plan_spec("starter").limits, Limit.SEATS, 5)
    client = workspace_client(expired.owner.user, expired.tenant)

    _subscribe(client, plan="starter")

    assert "allows at most 5 seats; 7 are in use" in client.get("/billing/").content.decode()


def test_stripe_down_is_a_clear_message_and_changes_nothing(
    expired: Workspace, settings: Any
) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_down"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    client = workspace_client(expired.owner.user, expired.tenant)

    _subscribe(client)

    assert "Stripe could not be reached" in client.get("/billing/").content.decode()
    assert not BillingAccount.objects.filter(tenant=expired.tenant).exists()


def test_an_active_subscription_cannot_be_bought_twice(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    client = workspace_client(expired.owner.user, expired.tenant)
    response = _subscribe(client)
    client.get(_local(synced_plans.pay_checkout(response["Location"])))

    again = _subscribe(client, plan="enterprise")

    assert again["Location"] == "/billing/"
    assert "already has a subscription" in client.get("/billing/").content.decode()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OWNER, True),
        (Role.ADMIN, True),
        (Role.MANAGER, False),
        (Role.SALES_REP, False),
        (Role.SUPPORT_AGENT, False),
        (Role.MARKETER, False),
        (Role.READ_ONLY, False),
    ],
)
def test_only_members_with_the_billing_capability_can_subscribe(
    expired: Workspace, synced_plans: LocalStripe, role: str, allowed: bool
) -> None:
    client = workspace_client(expired.members[role].user, expired.tenant)

    response = _subscribe(client)
    back = client.get("/billing/return/?session_id=cs_test_x")

    if allowed:
        assert response.status_code == 302
        assert response["Location"].startswith(synced_plans.base)
        assert back.status_code == 404
    else:
        assert response.status_code == 403
        assert back.status_code == 403
        assert not BillingAccount.objects.filter(tenant=expired.tenant).exists()


def _checkouts_started(workspace: Workspace) -> int:
    with schema_context(workspace.tenant.schema_name):
        return AuditEvent.objects.filter(action="billing.checkout_started").count()


@pytest.fixture
def stalling_stripe() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections and never answers (Stripe hanging)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_stripe_stalling_is_a_clear_message_and_changes_nothing(
    expired: Workspace, settings: Any, stalling_stripe: str
) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_stalling"
    settings.STRIPE_API_BASE = stalling_stripe
    settings.STRIPE_TIMEOUT_SECONDS = 0.5
    client = workspace_client(expired.owner.user, expired.tenant)

    response = _subscribe(client)

    assert response["Location"] == "/billing/"
    assert "Stripe could not be reached" in client.get("/billing/").content.decode()
    assert not BillingAccount.objects.filter(tenant=expired.tenant).exists()
    assert _tenant(expired).billing_status == Tenant.BillingStatus.TRIAL_EXPIRED


def test_the_currency_picker_is_gone_once_subscribed_and_another_currency_is_refused(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    client = workspace_client(expired.owner.user, expired.tenant)
    before = client.get("/billing/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert 'id="billing-currency"' in before
    response = _subscribe(client, currency="EUR")
    client.get(_local(synced_plans.pay_checkout(response["Location"])))

    page = client.get("/billing/?currency=USD", HTTP_ACCEPT_LANGUAGE="en-US")

    html = page.content.decode()
    assert 'id="billing-currency"' not in html
    assert 'data-testid="billing-currency-fixed"' in html
    assert page.context["currency"] == "EUR"
    assert 'name="currency" value="USD"' not in html


def test_after_the_subscription_ended_a_new_one_keeps_the_currency(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    client = workspace_client(expired.owner.user, expired.tenant)
    response = _subscribe(client, currency="EUR")
    client.get(_local(synced_plans.pay_checkout(response["Location"])))
    account = BillingAccount.objects.get(tenant=expired.tenant)
    BillingAccount.objects.filter(pk=account.pk).update(subscription_status="canceled")
    Tenant.objects.filter(pk=expired.tenant.pk).update(billing_status=Tenant.BillingStatus.CANCELED)
    started = _checkouts_started(expired)

    refused = _subscribe(client, currency="USD")

    assert refused["Location"] == "/billing/"
    page = client.get("/billing/").content.decode()
    assert "This workspace is billed in EUR" in page
    assert _checkouts_started(expired) == started
    assert 'name="currency" value="EUR"' in page
    assert _subscribe(client, currency="EUR")["Location"].startswith(synced_plans.base)


@pytest.mark.parametrize("enabled", [True, False])
def test_stripe_tax_is_asked_for_by_configuration(
    expired: Workspace, synced_plans: LocalStripe, settings: Any, enabled: bool
) -> None:
    settings.STRIPE_AUTOMATIC_TAX = enabled
    client = workspace_client(expired.owner.user, expired.tenant)

    response = _subscribe(client)

    session_id = response["Location"].rsplit("/", 1)[1]
    session = synced_plans.get(f"/v1/checkout/sessions/{session_id}")
    assert session["automatic_tax"]["enabled"] is enabled
