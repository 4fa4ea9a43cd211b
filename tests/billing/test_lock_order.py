"""Work that locks a workspace's billing rows takes them in the order every Stripe event's
handler does (the billing account, then the workspace, then its planned deletion), so two
such transactions wait for each other instead of deadlocking:

- a seat change while a payment fails: the change is then refused because the workspace fell
  past due;
- the drop of a canceled workspace on its deletion day while a subscription event saying it
  pays again arrives: the drop then finds the deletion withdrawn and keeps the workspace.

Real concurrent transactions on committed rows; each test removes what it made."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from billing import changes, retention
from billing.models import BillingAccount, StripeEvent, WorkspaceDeletion
from billing.models_revenue import RevenueState
from billing.subscriptions import _lock_account
from billing.webhooks import stripe_event_process
from crm_platform.errors import ServiceError
from tenants import services
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Plan, Tenant
from tenants.services.workspace import workspace_delete
from tests.conftest import World
from tests.factories import UserFactory


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        # Within a transaction the activity view is a snapshot taken at its first read.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def _wait_until_blocked(polls: int = 500) -> None:
    """Return once the other transaction waits for a lock. The bound only keeps a broken
    lock order from hanging the suite; it measures nothing."""
    for _ in range(polls):
        if _waiting_for_a_lock():
            return
        time.sleep(0.02)
    pytest.fail("the other transaction never waited for a lock")


def test_a_seat_change_while_a_payment_fails_waits_then_is_refused(
    world: World, django_db_blocker: Any
) -> None:
    bravo = world.bravo.tenant
    with django_db_blocker.unblock():
        saved = Tenant.objects.filter(pk=bravo.pk).values("plan", "seat_limit", "billing_status")[0]
        Tenant.objects.filter(pk=bravo.pk).update(
            plan=Plan.PROFESSIONAL, seat_limit=5, billing_status=Tenant.BillingStatus.ACTIVE
        )
        account = BillingAccount.objects.create(
            tenant=bravo,
            stripe_customer_id="cus_lock_bravo",
            stripe_subscription_id="sub_lock_bravo",
            subscription_status="active",
            currency="EUR",
            interval="month",
        )
        owner = Membership.objects.select_related("tenant", "user").get(pk=world.bravo.owner.pk)
        account_locked = threading.Event()
        outcome: dict[str, Any] = {}
        errors: list[BaseException] = []

        def payment_fails() -> None:
            """What the payment-failure task does: the account locked, then the workspace."""
            try:
                with transaction.atomic():
                    BillingAccount.objects.select_for_update().get(pk=account.pk)
                    account_locked.set()
                    _wait_until_blocked()
                    tenant = Tenant.objects.select_for_update().get(pk=bravo.pk)
                    tenant.billing_status = Tenant.BillingStatus.PAST_DUE
                    tenant.save(update_fields=["billing_status"])
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()

        def seats_bought() -> None:
            try:
                account_locked.wait(10)
                changes.seats_purchase(actor=owner, seats="8")
                outcome["seats"] = "bought"
            except ServiceError as error:
                outcome["seats"] = error.code
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=payment_fails), threading.Thread(target=seats_bought)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert errors == []
            assert outcome == {"seats": "not_active"}
            tenant = Tenant.objects.get(pk=bravo.pk)
            assert (tenant.billing_status, tenant.seat_limit) == (Tenant.BillingStatus.PAST_DUE, 5)
            assert BillingAccount.objects.get(pk=account.pk).seats_purchased == 0
        finally:
            with schema_context(bravo.schema_name):
                AuditEvent.objects.filter(action__startswith="billing.").delete()
            BillingAccount.objects.filter(pk=account.pk).delete()
            Tenant.objects.filter(pk=bravo.pk).update(**saved)


def test_the_drop_on_deletion_day_and_a_paying_again_event_wait_for_each_other(
    committed_spare: Tenant, django_db_blocker: Any
) -> None:
    """The event's task holds the billing account and the workspace (its first statement)
    when the drop starts. Were the drop to lock the deletion first and the workspace next, it
    would wait for the event, whose withdrawal of the deletion would wait for the drop:
    PostgreSQL would abort one of them as a deadlock."""
    with django_db_blocker.unblock():
        owner = UserFactory.create()
        tenant = services.workspace_create(
            owner=owner, company_name="Última Jornada", slug="deletion-day"
        )
        schema = tenant.schema_name
        customer = f"cus_deletion_day_{tenant.pk}"
        Tenant.objects.filter(pk=tenant.pk).update(
            plan=Plan.PROFESSIONAL, billing_status=Tenant.BillingStatus.CANCELED
        )
        account = BillingAccount.objects.create(
            tenant=tenant,
            stripe_customer_id=customer,
            stripe_subscription_id="sub_deletion_day",
            subscription_status="canceled",
            subscription_version=100,
            ended_at=timezone.now() - timedelta(days=settings.BILLING_RETENTION_DAYS + 1),
        )
        deletion = retention.deletion_schedule(tenant=Tenant.objects.get(pk=tenant.pk))
        assert deletion is not None
        assert deletion.delete_after < timezone.now()
        event_id = "evt_deletion_day_paying_again"
        StripeEvent.objects.create(
            event_id=event_id,
            type="customer.subscription.updated",
            created=200,
            payload={
                "id": event_id,
                "object": "event",
                "type": "customer.subscription.updated",
                "created": 200,
                "data": {
                    "object": {
                        "object": "subscription",
                        "id": "sub_deletion_day",
                        "customer": customer,
                        "status": "active",
                        "items": {"data": []},
                    }
                },
            },
        )
        account_locked = threading.Event()
        outcome: dict[str, Any] = {}
        errors: list[BaseException] = []

        def event_applied() -> None:
            try:
                with transaction.atomic():
                    # The task's first lock (the account with its workspace), held while the
                    # drop starts; then the task itself, which withdraws the deletion.
                    _lock_account(customer)
                    account_locked.set()
                    _wait_until_blocked()
                    outcome["event"] = stripe_event_process(event_id=event_id)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()

        def workspace_dropped() -> None:
            try:
                account_locked.wait(10)
                outcome["dropped"] = retention.workspace_drop(deletion_id=deletion.pk)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=event_applied),
            threading.Thread(target=workspace_dropped),
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert errors == []
            assert outcome == {"event": True, "dropped": False}
            assert Tenant.objects.get(pk=tenant.pk).billing_status == Tenant.BillingStatus.ACTIVE
            assert WorkspaceDeletion.objects.get(pk=deletion.pk).status == "canceled"
            assert BillingAccount.objects.get(pk=account.pk).ended_at is None
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
                assert cursor.fetchone() == (1,)
        finally:
            left = Tenant.objects.filter(pk=tenant.pk).first()
            if left is not None:
                workspace_delete(tenant=left, actor=None)
            WorkspaceDeletion.objects.filter(schema_name=schema).delete()
            RevenueState.objects.filter(event_id=event_id).delete()
            StripeEvent.objects.filter(event_id=event_id).delete()
            owner.delete()
