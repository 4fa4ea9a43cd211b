"""An expired Checkout: the member who comes back from it is told so and nothing changes, its
webhook is answered and ignored, and subscribing again with the same choice opens a new
Checkout instead of the expired one (Stripe remembers an idempotency key for a day, as long as
a Checkout Session lives)."""

from __future__ import annotations

from typing import Any

from django.contrib.messages import get_messages

from billing.models import BillingAccount
from tenants.models import Plan, Tenant
from tests.billing.conftest import LocalStripe
from tests.conftest import Workspace, workspace_client

EXPIRED = "This checkout expired before it was paid; choose a plan to start again."


def _subscribe(client: Any) -> str:
    data = {"plan": "professional", "interval": "month", "currency": "EUR"}
    response = client.post("/billing/subscribe/", data)
    assert response.status_code == 302
    return str(response["Location"])


def _state(workspace: Workspace) -> tuple[str, int, str]:
    tenant = Tenant.objects.get(pk=workspace.tenant.pk)
    return tenant.plan, tenant.seat_limit, tenant.billing_status


def test_an_expired_checkout_says_so_and_the_same_choice_opens_a_new_one(
    expired: Workspace, synced_plans: LocalStripe
) -> None:
    client = workspace_client(expired.owner.user, expired.tenant)
    first = _subscribe(client)
    first_id = first.rsplit("/", 1)[1]
    synced_plans.post(f"/v1/checkout/sessions/{first_id}/expire", {})
    before = _state(expired)

    # Back from the expired page: told so, nothing changes.
    response = client.get("/billing/return/", {"session_id": first_id})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [EXPIRED]
    assert _state(expired) == before
    # Its webhook is answered and changes nothing.
    assert "checkout.session.expired" in synced_plans.deliver()
    assert _state(expired) == before

    # The same choice again: a new, open Checkout that can be paid.
    second = _subscribe(client)
    second_id = second.rsplit("/", 1)[1]
    assert second_id != first_id
    assert synced_plans.get(f"/v1/checkout/sessions/{second_id}")["status"] == "open"
    # A double click on it still gets the same one.
    assert _subscribe(client) == second
    synced_plans.pay_checkout(second)
    synced_plans.deliver()
    assert _state(expired) == (Plan.PROFESSIONAL, 7, Tenant.BillingStatus.ACTIVE)
    assert BillingAccount.objects.filter(tenant=expired.tenant).count() == 1
