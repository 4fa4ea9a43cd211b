"""Stripe webhook events, taken into account exactly once.

The endpoint stores each event under Stripe's unique id and answers at once; a Celery task
applies it after the commit. The task locks the event's row and applies it only if it was
not processed yet, marking it in the same transaction, so a delivered-again event (stored
once) or a task run twice (at-least-once delivery) never applies twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing import stripe_api
from billing.models import BillingAccount, StripeEvent
from billing.module import PAYMENT_FAILED, PAYMENT_RECOVERED, UNPAID_READ_ONLY
from billing.revenue_rollup import revenue_record
from billing.subscriptions import billing_status_for, subscription_apply
from tenants.audit.services import audit_record
from tenants.hosts import workspace_url
from tenants.models import Tenant

logger = logging.getLogger("rapport.billing")

Event = dict[str, Any]


def stripe_event_record(*, event: Event) -> bool:
    """Store ``event`` unless it was stored before, and have it applied after the commit.
    True when it is new."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                StripeEvent.objects.create(
                    event_id=event["id"],
                    type=event["type"],
                    created=event["created"],
                    payload=event,
                )
        except IntegrityError:
            return False  # the same event, delivered again (or concurrently)
        transaction.on_commit(partial(_enqueue, event["id"]))
    return True


def _enqueue(event_id: str) -> None:
    from billing.tasks import process_stripe_event

    process_stripe_event.delay(event_id)


def stripe_event_process(*, event_id: str) -> bool:
    """Apply the stored event unless it was applied already. True when it took effect now."""
    with transaction.atomic():
        stored = StripeEvent.objects.select_for_update().filter(pk=event_id).first()
        if stored is None or stored.processed_at is not None:
            return False
        handler = _HANDLERS.get(stored.type)
        if handler is not None:
            handler(stored.payload)
        # The staff dashboard's rollup takes the event in the same transaction: once.
        revenue_record(event=stored.payload, created=stored.created)
        stored.processed_at = timezone.now()
        stored.save(update_fields=["processed_at"])
    return True


def stripe_events_unprocessed(*, older_than: timedelta) -> list[str]:
    """Events stored but not applied (their task was lost): the sweep applies them again."""
    cutoff = timezone.now() - older_than
    return list(
        StripeEvent.objects.filter(processed_at__isnull=True, received_at__lte=cutoff)
        .order_by("created", "received_at")
        .values_list("event_id", flat=True)
    )


def _lock_account(customer_id: object) -> BillingAccount | None:
    if not isinstance(customer_id, str):
        return None
    account = (
        BillingAccount.objects.select_for_update()
        .select_related("tenant")
        .filter(stripe_customer_id=customer_id)
        .first()
    )
    if account is None:
        logger.warning("stripe event for an unknown customer %s", customer_id)
    return account


def _lock_tenant(account: BillingAccount) -> Tenant:
    return Tenant.objects.select_for_update().get(pk=account.tenant_id)


def _subscription_changed(event: Event) -> None:
    subscription = event["data"]["object"]
    subscription_apply(
        customer=subscription.get("customer"),
        subscription=subscription,
        version=event["created"],
        source=event["id"],
        deleted=event["type"] == "customer.subscription.deleted",
    )


def _checkout_completed(event: Event) -> None:
    """A Checkout paid: the subscription it made, read from Stripe (the event carries only its
    id), so the workspace is paying even if the subscription's own events are late or lost.
    Stripe unreachable: the task is retried and nothing is recorded meanwhile."""
    session = event["data"]["object"]
    subscription_id = session.get("subscription")
    if session.get("mode") != "subscription" or not isinstance(subscription_id, str):
        return
    if not BillingAccount.objects.filter(stripe_customer_id=session.get("customer")).exists():
        logger.warning("checkout %s of an unknown customer: ignored", session.get("id"))
        return
    subscription = stripe_api.subscription_retrieve(subscription_id)
    subscription_apply(
        customer=session.get("customer"),
        subscription=subscription,
        version=event["created"],
        source=event["id"],
        deleted=subscription.get("status") == "canceled",
    )


def _payment_in_order(account: BillingAccount, event: Event, *, failed: bool) -> bool:
    """Record the event as the newest payment news, unless a later one was applied already.
    Stripe's times are in seconds: at the same second, a failure of an invoice already paid
    is stale (the payment wins), while a failure of another invoice counts. Called with the
    account locked."""
    created = int(event["created"])
    if created < account.payment_version:
        logger.info("stripe event %s older than the last payment event: ignored", event["id"])
        return False
    if failed and created == account.payment_version:
        invoice_id = event["data"]["object"].get("id")
        paid = StripeEvent.objects.filter(
            type="invoice.paid", created=created, payload__data__object__id=invoice_id
        ).exclude(event_id=event["id"])
        if invoice_id and paid.exists():
            logger.info("stripe event %s: its invoice is already paid: ignored", event["id"])
            return False
    account.payment_version = created
    account.last_payment_failed = failed
    account.save(update_fields=["payment_version", "last_payment_failed"])
    return True


def _status_after_payment(account: BillingAccount, tenant: Tenant, *, failed: bool) -> str:
    """The workspace's status once this payment event (the newest) is recorded. Before any
    subscription status is known, a payment restores and a failure makes past due."""
    if account.subscription_status:
        return billing_status_for(
            account,
            current=tenant.billing_status,
            subscription_status=account.subscription_status,
            subscription_version=account.subscription_version,
        )
    if failed and tenant.billing_status == Tenant.BillingStatus.ACTIVE:
        return Tenant.BillingStatus.PAST_DUE
    if not failed and tenant.billing_status in (
        Tenant.BillingStatus.PAST_DUE,
        Tenant.BillingStatus.UNPAID,
    ):
        return Tenant.BillingStatus.ACTIVE
    return tenant.billing_status


def _invoice_paid(event: Event) -> None:
    account = _lock_account(event["data"]["object"].get("customer"))
    if account is None or not _payment_in_order(account, event, failed=False):
        return
    tenant = _lock_tenant(account)
    if tenant.billing_status in (
        Tenant.BillingStatus.PAST_DUE,
        Tenant.BillingStatus.UNPAID,
    ) and (_status_after_payment(account, tenant, failed=False) == Tenant.BillingStatus.ACTIVE):
        tenant.billing_status = Tenant.BillingStatus.ACTIVE
        tenant.save(update_fields=["billing_status"])
        account.past_due_since = None
        account.save(update_fields=["past_due_since"])
        audit_record(
            tenant=tenant, actor=None, action=PAYMENT_RECOVERED, data={"event": event["id"]}
        )


def _invoice_payment_failed(event: Event) -> None:
    invoice = event["data"]["object"]
    account = _lock_account(invoice.get("customer"))
    if account is None or not _payment_in_order(account, event, failed=True):
        return
    tenant = _lock_tenant(account)
    if tenant.billing_status != Tenant.BillingStatus.ACTIVE or (
        _status_after_payment(account, tenant, failed=True) != Tenant.BillingStatus.PAST_DUE
    ):
        return
    tenant.billing_status = Tenant.BillingStatus.PAST_DUE
    tenant.save(update_fields=["billing_status"])
    account.past_due_since = timezone.now()
    account.save(update_fields=["past_due_since"])
    audit_record(tenant=tenant, actor=None, action=PAYMENT_FAILED, data={"event": event["id"]})
    transaction.on_commit(partial(_send_payment_failed, tenant))


def _send_payment_failed(tenant: Tenant) -> None:
    from billing.services import billing_managers

    url = workspace_url(tenant.slug or "", "/billing/")
    for member in billing_managers(tenant):
        with translation.override(member.user.language or settings.LANGUAGE_CODE):
            subject = _("Payment for %(workspace)s on Rapport failed") % {"workspace": tenant.name}
            body = render_to_string(
                "email/payment_failed.txt",
                {"workspace": tenant, "url": url, "days": settings.BILLING_GRACE_DAYS},
            )
        send_mail(subject, body, None, [member.user.email])


def dunning_sweep(*, now: datetime | None = None) -> int:
    """Run by Celery beat: a workspace past due for longer than the grace period becomes
    read-only (its data kept; paying makes it writable again). Safe to run again."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.BILLING_GRACE_DAYS)
    overdue = BillingAccount.objects.filter(
        tenant__billing_status=Tenant.BillingStatus.PAST_DUE, past_due_since__lte=cutoff
    ).values_list("pk", flat=True)
    done = 0
    for pk in overdue:
        with transaction.atomic():
            account = BillingAccount.objects.select_for_update().get(pk=pk)
            tenant = _lock_tenant(account)
            # Again under the lock: a payment may have arrived meanwhile.
            if (
                tenant.billing_status != Tenant.BillingStatus.PAST_DUE
                or account.past_due_since is None
                or account.past_due_since > cutoff
            ):
                continue
            tenant.billing_status = Tenant.BillingStatus.UNPAID
            tenant.save(update_fields=["billing_status"])
            audit_record(tenant=tenant, actor=None, action=UNPAID_READ_ONLY)
            done += 1
    return done


_HANDLERS: dict[str, Callable[[Event], None]] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
}
