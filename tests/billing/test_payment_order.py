"""Invoice payment events in Stripe's order: a payment failure delivered after a later
payment leaves the workspace as the payment made it (no past-due state, no email, no audit
row), while a failure newer than the last payment still counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from billing.models import BillingAccount, StripeEvent
from tenants.audit.models import AuditEvent
from tenants.models import Tenant
from tests.billing.conftest import post_event
from tests.conftest import Workspace

CUSTOMER = "cus_payment_order"


@pytest.fixture
def active(alpha: Workspace) -> Workspace:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        plan="professional", billing_status=Tenant.BillingStatus.ACTIVE
    )
    BillingAccount.objects.create(
        tenant=alpha.tenant, stripe_customer_id=CUSTOMER, subscription_status="active"
    )
    mail.outbox.clear()
    return alpha


def _invoice(event_id: str, kind: str, created: int, invoice: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": f"invoice.{kind}",
        "created": created,
        "data": {
            "object": {
                "object": "invoice",
                "id": invoice,
                "customer": CUSTOMER,
                "amount_due": 4500,
                "currency": "eur",
            }
        },
    }


def _status(workspace: Workspace) -> str:
    return Tenant.objects.get(pk=workspace.tenant.pk).billing_status


def _audit_actions(workspace: Workspace) -> list[str]:
    with schema_context(workspace.tenant.schema_name):
        return list(
            AuditEvent.objects.filter(action__startswith="billing.payment")
            .order_by("id")
            .values_list("action", flat=True)
        )


def test_a_failure_delivered_after_a_later_payment_changes_nothing(active: Workspace) -> None:
    assert post_event(_invoice("evt_order_paid", "paid", 2_000, "in_2")) == 200
    assert post_event(_invoice("evt_order_failed", "payment_failed", 1_000, "in_1")) == 200

    assert _status(active) == Tenant.BillingStatus.ACTIVE
    account = BillingAccount.objects.get(tenant=active.tenant)
    assert account.past_due_since is None
    assert account.payment_version == 2_000
    assert mail.outbox == []
    assert _audit_actions(active) == []
    # Both were stored and taken into account once.
    assert sorted(
        StripeEvent.objects.filter(event_id__startswith="evt_order_")
        .exclude(processed_at=None)
        .values_list("event_id", flat=True)
    ) == ["evt_order_failed", "evt_order_paid"]


def test_in_order_a_failure_then_its_payment_restores_the_workspace(active: Workspace) -> None:
    assert post_event(_invoice("evt_order_failed", "payment_failed", 1_000, "in_1")) == 200
    assert _status(active) == Tenant.BillingStatus.PAST_DUE
    assert len(mail.outbox) == 2  # the Owner and the Admin

    assert post_event(_invoice("evt_order_paid", "paid", 2_000, "in_1")) == 200

    assert _status(active) == Tenant.BillingStatus.ACTIVE
    assert BillingAccount.objects.get(tenant=active.tenant).past_due_since is None
    assert _audit_actions(active) == ["billing.payment_failed", "billing.payment_recovered"]


def test_a_payment_delivered_after_a_later_failure_does_not_restore(active: Workspace) -> None:
    assert post_event(_invoice("evt_order_failed", "payment_failed", 3_000, "in_2")) == 200
    assert post_event(_invoice("evt_order_paid", "paid", 2_000, "in_1")) == 200

    assert _status(active) == Tenant.BillingStatus.PAST_DUE
    assert BillingAccount.objects.get(tenant=active.tenant).payment_version == 3_000
    assert _audit_actions(active) == ["billing.payment_failed"]


def test_a_failure_newer_than_the_last_payment_still_counts(active: Workspace) -> None:
    assert post_event(_invoice("evt_order_paid", "paid", 2_000, "in_1")) == 200
    assert post_event(_invoice("evt_order_failed", "payment_failed", 3_000, "in_2")) == 200

    assert _status(active) == Tenant.BillingStatus.PAST_DUE
    assert _audit_actions(active) == ["billing.payment_failed"]


def test_at_the_same_second_the_payment_wins(active: Workspace) -> None:
    assert post_event(_invoice("evt_order_paid", "paid", 2_000, "in_1")) == 200
    assert post_event(_invoice("evt_order_failed", "payment_failed", 2_000, "in_1")) == 200

    assert _status(active) == Tenant.BillingStatus.ACTIVE
    assert mail.outbox == []


def test_at_the_same_second_a_failure_of_another_invoice_counts(active: Workspace) -> None:
    assert post_event(_invoice("evt_order_paid_a", "paid", 2_000, "in_a")) == 200
    assert post_event(_invoice("evt_order_failed_b", "payment_failed", 2_000, "in_b")) == 200

    assert _status(active) == Tenant.BillingStatus.PAST_DUE
    assert len(mail.outbox) == 2  # the Owner and the Admin
