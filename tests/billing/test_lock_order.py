"""A seat change while a payment fails: the billing page's change and the webhook's task lock
the same two rows (the workspace's billing account, then the workspace) in the same order, so
they wait for each other instead of deadlocking, and the change is then refused because the
workspace fell past due. Runs on the committed test workspaces (real concurrent transactions)
and removes what it made."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import connection, connections, transaction
from django_tenants.utils import schema_context

from billing import changes
from billing.models import BillingAccount
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Plan, Tenant
from tests.conftest import World


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        # Within a transaction the activity view is a snapshot taken at its first read.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def _wait_until_blocked(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _waiting_for_a_lock() == 0:
        assert time.monotonic() < deadline, "the seat change never waited for the lock"
        time.sleep(0.02)


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
