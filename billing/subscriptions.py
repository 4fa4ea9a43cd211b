"""Paying: the workspace's Stripe customer, Checkout, and the subscription state Stripe reports.

The workspace becomes paying only from a subscription read from Stripe (on the return from
Checkout, or in a webhook event), never from the redirect alone.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import stripe_api
from billing.models import BillingAccount
from billing.module import CHECKOUT_STARTED, SUBSCRIPTION_CHANGED
from billing.plans import (
    CURRENCIES,
    PLANS,
    Interval,
    plan_changed,
    plan_spec,
    price_choice,
    price_lookup_key,
    subscription_currency,
)
from crm_platform.errors import ServiceError
from tenants import capabilities
from tenants.audit.services import audit_record
from tenants.hosts import workspace_url
from tenants.models import Membership, Tenant
from tenants.permissions import require
from tenants.selectors import seats_used

logger = logging.getLogger("rapport.billing")

# Stripe's subscription statuses → the workspace's billing status.
PAYING = frozenset({"active", "trialing"})
OVERDUE = frozenset({"past_due", "unpaid"})
ENDED = frozenset({"canceled", "incomplete_expired"})
_SESSION_ID = re.compile(r"cs_[A-Za-z0-9_]{1,200}")
# Expired Checkout Sessions a subscribe click steps over before giving up.
_EXPIRED_SESSIONS_SKIPPED = 5


def billing_status_for(
    account: BillingAccount, *, current: str, subscription_status: str, subscription_version: int
) -> str:
    """The workspace's billing status from the newest subscription status and the newest
    payment event (``account.payment_version``): the newer of the two decides (the payment at
    the same second: it is what the customer did), so the result is the same whatever order
    the events were applied in. Without a subscription status (none reported yet, or one
    that changes nothing) the status stays ``current``."""
    if subscription_status in ENDED:
        return Tenant.BillingStatus.CANCELED
    payment_newer = account.payment_version > 0 and account.payment_version >= (
        subscription_version
    )
    if subscription_status in PAYING:
        overdue = payment_newer and account.last_payment_failed
    elif subscription_status in OVERDUE:
        overdue = not (payment_newer and not account.last_payment_failed)
    else:
        return current
    if not overdue:
        return Tenant.BillingStatus.ACTIVE
    # Past the grace period the workspace stays read-only until an invoice is paid.
    return current if current == Tenant.BillingStatus.UNPAID else Tenant.BillingStatus.PAST_DUE


def stripe_failed() -> ServiceError:
    return ServiceError(
        _("Stripe could not be reached, so nothing was changed or charged. Try again shortly."),
        code="stripe_unavailable",
    )


def not_found() -> ServiceError:
    return ServiceError(_("This checkout does not belong to this workspace."), code="not_found")


def billing_account_for(tenant: Tenant, *, email: str) -> BillingAccount:
    """The workspace's Stripe customer, created the first time it is needed. The workspace
    row lock makes two first clicks create one customer (and Stripe's idempotency key one
    customer at Stripe even if our transaction is lost)."""
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        account = BillingAccount.objects.filter(tenant=locked).first()
        if account is not None:
            return account
        try:
            customer = stripe_api.customer_create(
                name=locked.name, email=email, tenant_id=locked.pk
            )
        except stripe_api.StripeUnavailable as error:
            logger.warning("customer for %s not created: %s", locked.pk, error)
            raise stripe_failed() from error
        return BillingAccount.objects.create(tenant=locked, stripe_customer_id=customer)


def has_live_subscription(tenant: Tenant) -> bool:
    account = BillingAccount.objects.filter(tenant=tenant).first()
    return bool(
        account is not None
        and account.stripe_subscription_id
        and account.subscription_status not in ENDED
    )


def billing_currency(tenant: Tenant) -> str:
    """The currency the workspace's Stripe customer is billed in, once it has had a
    subscription ("" before): Stripe does not let a customer change its currency."""
    account = BillingAccount.objects.filter(tenant=tenant).first()
    currency = account.currency.upper() if account is not None else ""
    return currency if currency in CURRENCIES else ""


def checkout_start(*, actor: Membership, plan: str, interval: str, currency: str) -> str:
    """A Stripe Checkout Session for ``plan`` billed per ``interval`` in ``currency``, for the
    seats in use. Returns the URL to send the member to. The same choice made twice (a double
    click) answers the same session: nothing can be paid twice."""
    require(actor, capabilities.MANAGE_BILLING)
    if plan not in {spec.code for spec in PLANS}:
        raise ServiceError(_("Choose one of the plans offered."), field="plan")
    if interval not in Interval.values:
        raise ServiceError(_("Choose monthly or annual billing."), field="interval")
    if currency not in CURRENCIES:
        raise ServiceError(_("Choose one of the currencies offered."), field="currency")
    tenant = actor.tenant
    if has_live_subscription(tenant):
        raise ServiceError(
            _("This workspace already has a subscription."), field="plan", code="subscribed"
        )
    billed_in = billing_currency(tenant)
    if billed_in and currency != billed_in:
        raise ServiceError(
            _(
                "This workspace is billed in %(currency)s: Stripe keeps a customer in the "
                "currency of its first subscription, so choose prices in %(currency)s."
            )
            % {"currency": billed_in},
            field="currency",
            code="currency_fixed",
        )
    quantity = max(1, seats_used(tenant=tenant))
    cap = plan_spec(plan).seat_limit
    if quantity > cap:
        raise ServiceError(
            _("The %(plan)s plan allows at most %(cap)d seats; %(used)d are in use.")
            % {"plan": plan_spec(plan).name, "cap": cap, "used": quantity},
            field="plan",
            code="seat_cap",
        )
    # Checked before the customer is made: a choice that cannot be sold leaves nothing behind.
    price = price_in_currency(plan=plan, interval=interval, currency=currency)
    account = billing_account_for(tenant, email=actor.user.email)
    slug = tenant.slug or ""
    # A double click gets the same session; a new subscription after an ended one (another
    # subscription id and version) gets a new session.
    key = (
        f"checkout-{account.stripe_customer_id}-{price}-{currency}-{quantity}-"
        f"{account.stripe_subscription_id or 'none'}-{account.subscription_version}"
    )
    try:
        for _attempt in range(_EXPIRED_SESSIONS_SKIPPED + 1):
            session = stripe_api.checkout_session_create(
                customer=account.stripe_customer_id,
                price=price,
                currency=currency,
                quantity=quantity,
                success_url=workspace_url(
                    slug, "/billing/return/?session_id={CHECKOUT_SESSION_ID}"
                ),
                cancel_url=workspace_url(slug, "/billing/"),
                tenant_id=tenant.pk,
                idempotency_key=key,
            )
            # Stripe answers a key it has seen (for a day, as long as a session lives) with
            # the response it gave then: whether that session expired since is read anew.
            if stripe_api.checkout_session_retrieve(str(session["id"])).get("status") != (
                "expired"
            ):
                break
            key = f"{key}-after-{session['id']}"
        else:
            raise stripe_api.StripeUnavailable("checkout: only expired sessions")
    except stripe_api.StripeUnavailable as error:
        logger.warning("checkout for %s not created: %s", tenant.pk, error)
        raise stripe_failed() from error
    audit_record(
        tenant=tenant,
        actor=actor.user,
        action=CHECKOUT_STARTED,
        data={"plan": plan, "interval": interval, "currency": currency, "seats": quantity},
    )
    return str(session["url"])


def price_in_currency(*, plan: str, interval: str, currency: str) -> str:
    """The id of the Stripe Price of ``plan`` and ``interval``, checked to have an amount in
    ``currency`` (its own or one of its ``currency_options``)."""
    try:
        price = stripe_api.price_find(price_lookup_key(plan=plan, interval=interval))
    except stripe_api.StripeUnavailable as error:
        raise stripe_failed() from error
    if price is None:
        logger.error("no Stripe price for %s %s: run stripe_sync_plans", plan, interval)
        raise ServiceError(
            _("This plan cannot be bought at the moment. Please contact support."), field="plan"
        )
    if currency.lower() not in stripe_api.price_currencies(price):
        logger.error(
            "the Stripe price for %s %s has no amount in %s: run stripe_sync_plans",
            plan,
            interval,
            currency,
        )
        raise ServiceError(
            _("This plan cannot be bought in %(currency)s at the moment.") % {"currency": currency},
            field="currency",
        )
    return str(price["id"])


def checkout_return(*, actor: Membership, session_id: str) -> bool:
    """Back from Checkout: read the session and its subscription from Stripe so the billing page
    shows the new state at once. True when the subscription was found (paid or not); a session
    of another workspace is refused as not found."""
    require(actor, capabilities.MANAGE_BILLING)
    if not _SESSION_ID.fullmatch(session_id or ""):
        raise not_found()
    account = BillingAccount.objects.filter(tenant=actor.tenant).first()
    if account is None:
        raise not_found()
    try:
        session = stripe_api.checkout_session_retrieve(session_id)
    except stripe_api.StripeNotFound as error:
        raise not_found() from error
    except stripe_api.StripeUnavailable as error:
        raise stripe_failed() from error
    if session.get("customer") != account.stripe_customer_id or session.get(
        "client_reference_id"
    ) != str(actor.tenant.pk):
        raise not_found()
    subscription_id = session.get("subscription")
    if session.get("status") == "expired":
        raise ServiceError(
            _("This checkout expired before it was paid; choose a plan to start again."),
            code="expired",
        )
    if session.get("status") != "complete" or not isinstance(subscription_id, str):
        return False
    try:
        subscription = stripe_api.subscription_retrieve(subscription_id)
    except stripe_api.StripeUnavailable as error:
        raise stripe_failed() from error
    subscription_apply(
        customer=account.stripe_customer_id,
        subscription=subscription,
        version=int(time.time()),
        source=session_id,
    )
    return True


def subscription_apply(
    *,
    customer: object,
    subscription: dict[str, Any],
    version: int,
    source: str,
    deleted: bool = False,
) -> bool:
    """Our record of the workspace's subscription, as Stripe described it at ``version`` (the
    event's creation time, or the time we read it). An older description never overwrites a
    newer one. True when it was applied."""
    with transaction.atomic():
        account = _lock_account(customer)
        if account is None or version < account.subscription_version:
            return False
        status = "canceled" if deleted else str(subscription.get("status", ""))
        tenant = Tenant.objects.select_for_update().get(pk=account.tenant_id)
        before = (tenant.plan, tenant.seat_limit, tenant.billing_status)
        items = (subscription.get("items") or {}).get("data") or []
        if items:
            item = items[0]
            price = item.get("price") or item.get("plan") or {}
            choice = price_choice(price)
            quantity = item.get("quantity")
            if choice is not None:
                tenant.plan, account.interval = choice.plan, choice.interval
                account.currency = subscription_currency(subscription, choice)
            if isinstance(quantity, int) and quantity > 0:
                tenant.seat_limit = min(quantity, plan_spec(tenant.plan).seat_limit)
            period_end = item.get("current_period_end") or subscription.get("current_period_end")
            if isinstance(period_end, int):
                account.current_period_end = datetime.fromtimestamp(period_end, tz=UTC)
        account.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
        schedule = subscription.get("schedule")
        if isinstance(schedule, dict):
            schedule = schedule.get("id")
        if deleted:
            account.seats_purchased = 0  # a later subscription starts from the seats in use
        if not schedule or deleted:
            # Applied at the period's end, or released: nothing is waiting any more.
            account.stripe_schedule_id = ""
            account.scheduled_plan = ""
            account.scheduled_interval = ""
        else:
            account.stripe_schedule_id = str(schedule)
        if status in PAYING:
            if tenant.billing_status == Tenant.BillingStatus.CANCELED:
                # Paying again before the retention period ends keeps the workspace.
                from billing.retention import deletion_cancel

                deletion_cancel(tenant=tenant, source=source)
            account.ended_at = None
        tenant.billing_status = billing_status_for(
            account,
            current=tenant.billing_status,
            subscription_status=status,
            subscription_version=version,
        )
        if status in ENDED and account.ended_at is None:
            ended = subscription.get("ended_at")
            account.ended_at = (
                datetime.fromtimestamp(ended, tz=UTC) if isinstance(ended, int) else timezone.now()
            )
        tenant.save(update_fields=["plan", "seat_limit", "billing_status"])
        if (
            tenant.billing_status == Tenant.BillingStatus.PAST_DUE
            and account.past_due_since is None
        ):
            account.past_due_since = timezone.now()
        elif tenant.billing_status != Tenant.BillingStatus.PAST_DUE:
            account.past_due_since = None
        account.stripe_subscription_id = str(subscription.get("id", ""))
        account.subscription_status = status
        account.subscription_version = version
        account.updated_at = timezone.now()
        account.save(
            update_fields=[
                "stripe_subscription_id",
                "subscription_status",
                "subscription_version",
                "past_due_since",
                "interval",
                "currency",
                "current_period_end",
                "ended_at",
                "cancel_at_period_end",
                "seats_purchased",
                "stripe_schedule_id",
                "scheduled_plan",
                "scheduled_interval",
                "updated_at",
            ]
        )
        after = (tenant.plan, tenant.seat_limit, tenant.billing_status)
        if tenant.plan != before[0]:
            # The one place a subscription writes the plan: what the old plan held resumes.
            changed = tenant
            transaction.on_commit(lambda: plan_changed(changed))
        if after != before:
            audit_record(
                tenant=tenant,
                actor=None,
                action=SUBSCRIPTION_CHANGED,
                data={
                    "event": source,
                    "plan": tenant.plan,
                    "seats": tenant.seat_limit,
                    "status": tenant.billing_status,
                },
            )
    return True


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
        logger.warning("stripe object for an unknown customer %s", customer_id)
    return account
