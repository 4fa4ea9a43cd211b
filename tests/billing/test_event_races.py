"""The same Stripe event processed by several workers at the same moment (Celery delivers at
least once): the row lock lets exactly one apply it. Runs on the committed test workspaces
(real concurrent transactions) and removes what it made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_tenants.utils import schema_context

from billing import webhooks
from billing.models import BillingAccount, StripeEvent
from tenants.audit.models import AuditEvent
from tenants.models import Tenant
from tests.concurrency import race
from tests.conftest import World


def test_concurrent_runs_of_one_event_apply_it_once(world: World, django_db_blocker: Any) -> None:
    bravo = world.bravo.tenant
    with django_db_blocker.unblock():
        before = Tenant.objects.get(pk=bravo.pk).billing_status
        Tenant.objects.filter(pk=bravo.pk).update(billing_status=Tenant.BillingStatus.ACTIVE)
        account = BillingAccount.objects.create(tenant=bravo, stripe_customer_id="cus_race_bravo")
        event: dict[str, Any] = {
            "id": "evt_race_1",
            "object": "event",
            "type": "invoice.payment_failed",
            "created": 1_900_000_000,
            "data": {"object": {"object": "invoice", "id": "in_r", "customer": "cus_race_bravo"}},
        }
        StripeEvent.objects.create(
            event_id=event["id"], type=event["type"], created=event["created"], payload=event
        )

        def process(go: Callable[[], object]) -> bool:
            go()
            return webhooks.stripe_event_process(event_id=event["id"])

        try:
            results = race([process] * 4)
            assert sorted(results) == [False, False, False, True]
            assert Tenant.objects.get(pk=bravo.pk).billing_status == "past_due"
            with schema_context(bravo.schema_name):
                assert AuditEvent.objects.filter(action="billing.payment_failed").count() == 1
        finally:
            with schema_context(bravo.schema_name):
                AuditEvent.objects.filter(action__startswith="billing.").delete()
            StripeEvent.objects.filter(pk=event["id"]).delete()
            account.delete()
            Tenant.objects.filter(pk=bravo.pk).update(billing_status=before)
