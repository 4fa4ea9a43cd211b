"""Changing a live subscription from the billing page: seats bought, plan and interval,
cancelling at the period's end and resuming. Every change can be previewed first with
Stripe's invoice preview, and is then made at Stripe (with an idempotency key) and recorded
from what Stripe answers.

Upgrades (a higher plan, or monthly to annual billing of the same plan) take effect now and
the difference is prorated; downgrades wait for the end of the paid period (a Stripe
Subscription Schedule), and are refused when the workspace uses more than the lower plan
allows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from billing import stripe_api
from billing.models import BillingAccount
from billing.module import (
    PLAN_CHANGE_SCHEDULED,
    PLAN_CHANGE_WITHDRAWN,
    PLAN_CHANGED,
    SEATS_PURCHASED,
    SUBSCRIPTION_CANCEL_SCHEDULED,
    SUBSCRIPTION_RESUMED,
)
from billing.plans import (
    DEFAULT_CURRENCY,
    PLANS,
    Interval,
    Limit,
    Money,
    limits_exceeded,
    plan_rank,
    plan_spec,
)
from billing.subscriptions import ENDED, price_in_currency, stripe_failed, subscription_apply
from crm_platform.errors import ServiceError
from tenants import capabilities
from tenants.audit.services import audit_record
from tenants.models import Membership, Tenant
from tenants.permissions import require
from tenants.selectors import seats_used

logger = logging.getLogger("rapport.billing")

MAX_SEATS_INPUT = 10_000_000


@dataclass(frozen=True)
class ChangePreview:
    """What a change would bill: the next invoice as Stripe previews it, and the part of it
    that pays for (or credits) the change."""

    plan: str
    interval: str
    seats: int
    # "now": takes effect at once, prorated; "period_end": when the paid period ends.
    timing: str
    next_invoice_total: Money
    proration: Money
    next_invoice_at: datetime | None


@dataclass(frozen=True)
class PlanChoice:
    plan: str
    interval: str
    upgrade: bool


def _locked(tenant_id: int) -> tuple[Tenant, BillingAccount | None]:
    """The workspace's billing account, then the workspace, locked in this order: the order
    of the webhook tasks, the dunning sweep and the reconciliation, so that a change made here
    while a payment fails waits for the other instead of deadlocking with it."""
    account = BillingAccount.objects.select_for_update().filter(tenant_id=tenant_id).first()
    return Tenant.objects.select_for_update().get(pk=tenant_id), account


def _live_account(tenant: Tenant) -> BillingAccount:
    return _check_live(tenant, BillingAccount.objects.filter(tenant=tenant).first())


def _check_live(tenant: Tenant, account: BillingAccount | None) -> BillingAccount:
    """The workspace's live subscription, or a ServiceError saying why nothing can change."""
    if (
        account is None
        or not account.stripe_subscription_id
        or (account.subscription_status in ENDED)
    ):
        raise ServiceError(
            _("This workspace has no subscription to change; choose a plan first."),
            code="no_subscription",
        )
    if tenant.billing_status != Tenant.BillingStatus.ACTIVE:
        raise ServiceError(
            _("Pay the open invoice first; the subscription can be changed once it is paid."),
            code="not_active",
        )
    return account


def _not_canceling(account: BillingAccount) -> None:
    if account.cancel_at_period_end:
        raise ServiceError(
            _("The subscription ends with this period; resume it before changing it."),
            code="canceling",
        )


def _money(minor_units: object, currency: object) -> Money:
    amount = minor_units if isinstance(minor_units, int) else 0
    return Money(Decimal(amount) / 100, str(currency or "").upper())


def _preview_of(invoice: dict[str, Any]) -> tuple[Money, Money]:
    lines = (invoice.get("lines") or {}).get("data") or []
    proration = sum(
        int(line.get("amount") or 0)
        for line in lines
        if line.get("proration")
        or (line.get("parent") or {}).get("subscription_item_details", {}).get("proration")
    )
    currency = invoice.get("currency")
    return _money(invoice.get("total"), currency), _money(proration, currency)


def next_invoice(tenant: Tenant) -> Money | None:
    """The amount of the live subscription's next invoice, as Stripe previews it now; None
    without a live subscription, when it will not renew, or when Stripe cannot be reached."""
    account = BillingAccount.objects.filter(tenant=tenant).first()
    if (
        account is None
        or not account.stripe_subscription_id
        or account.subscription_status in ENDED
        or account.cancel_at_period_end
    ):
        return None
    try:
        invoice = stripe_api.invoice_preview(
            customer=account.stripe_customer_id, subscription_id=account.stripe_subscription_id
        )
    except stripe_api.StripeUnavailable:
        return None
    return _preview_of(invoice)[0]


# Seats


def check_seats(*, tenant: Tenant, seats: object) -> int:
    """The number of seats to pay for, validated: a whole number from the seats in use to the
    plan's cap."""
    text = str(seats if seats is not None else "").strip()
    # ASCII digits only: "²" or "๓" pass str.isdigit() but are no seat count.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_SEATS_INPUT)):
        raise ServiceError(_("Enter the number of seats as a whole number."), field="seats")
    wanted = int(text)
    used = max(1, seats_used(tenant=tenant))
    cap = plan_spec(tenant.plan).seat_limit
    if wanted < used:
        raise ServiceError(
            _("%(used)d seats are in use: free some before paying for fewer.") % {"used": used},
            field="seats",
            code="below_used",
        )
    if wanted > cap:
        raise ServiceError(
            _("The %(plan)s plan allows at most %(cap)d seats.")
            % {"plan": plan_spec(tenant.plan).name, "cap": cap},
            field="seats",
            code="seat_cap",
        )
    return wanted


def seats_preview(*, actor: Membership, seats: object) -> ChangePreview:
    require(actor, capabilities.MANAGE_BILLING)
    tenant = actor.tenant
    account = _live_account(tenant)
    _not_canceling(account)
    quantity = check_seats(tenant=tenant, seats=seats)
    if quantity == tenant.seat_limit:
        raise ServiceError(
            _("The workspace already pays for %(seats)d seats.") % {"seats": quantity},
            field="seats",
            code="unchanged",
        )
    try:
        invoice = stripe_api.invoice_preview(
            customer=account.stripe_customer_id,
            subscription_id=account.stripe_subscription_id,
            quantity=quantity,
        )
    except stripe_api.StripeUnavailable as error:
        raise stripe_failed() from error
    total, proration = _preview_of(invoice)
    return ChangePreview(
        plan=tenant.plan,
        interval=account.interval,
        seats=quantity,
        timing="now",
        next_invoice_total=total,
        proration=proration,
        next_invoice_at=account.current_period_end,
    )


def seats_purchase(*, actor: Membership, seats: object) -> int:
    """Pay for ``seats`` seats from now on (prorated). The quantity billed never follows the
    seats in use below this number. Returns the seats paid."""
    require(actor, capabilities.MANAGE_BILLING)
    check_seats(tenant=actor.tenant, seats=seats)
    with transaction.atomic():
        tenant, found = _locked(actor.tenant_id)
        account = _check_live(tenant, found)
        _not_canceling(account)
        # Again under the lock: members may have been invited meanwhile.
        quantity = check_seats(tenant=tenant, seats=seats)
        before = tenant.seat_limit
        if quantity != before:
            try:
                updated = stripe_api.subscription_set_quantity(
                    subscription_id=account.stripe_subscription_id,
                    quantity=quantity,
                    idempotency_key=(
                        f"seats-{account.stripe_subscription_id}-"
                        f"{account.subscription_version}-{quantity}"
                    ),
                )
            except stripe_api.StripeUnavailable as error:
                logger.warning("seats of %s not changed: %s", tenant.pk, error)
                raise stripe_failed() from error
            subscription_apply(
                customer=account.stripe_customer_id,
                subscription=updated,
                version=int(time.time()),
                source="seats",
            )
        BillingAccount.objects.filter(pk=account.pk).update(seats_purchased=quantity)
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action=SEATS_PURCHASED,
            data={"from": before, "to": quantity},
        )
    return quantity


# Plans


def check_plan_choice(
    *, tenant: Tenant, account: BillingAccount, plan: str, interval: str
) -> PlanChoice:
    if plan not in {spec.code for spec in PLANS}:
        raise ServiceError(_("Choose one of the plans offered."), field="plan")
    if interval not in Interval.values:
        raise ServiceError(_("Choose monthly or annual billing."), field="interval")
    current_interval = account.interval or Interval.MONTH
    if plan == tenant.plan and interval == current_interval:
        raise ServiceError(
            _("The workspace is already on this plan."), field="plan", code="unchanged"
        )
    rank, current_rank = plan_rank(plan), plan_rank(tenant.plan)
    upgrade = rank > current_rank or (rank == current_rank and current_interval == Interval.MONTH)
    spec = plan_spec(plan)
    used = seats_used(tenant=tenant)
    if used > spec.seat_limit:
        raise ServiceError(
            _("The %(plan)s plan allows at most %(cap)d seats; %(used)d are in use.")
            % {"plan": spec.name, "cap": spec.seat_limit, "used": used},
            field="plan",
            code="seat_cap",
        )
    for name, in_use, allowed in limits_exceeded(tenant, plan):
        raise ServiceError(
            _("%(limit)s: the %(plan)s plan allows %(allowed)d, the workspace has %(used)d.")
            % {
                "limit": Limit(name).label,
                "plan": spec.name,
                "allowed": allowed,
                "used": in_use,
            },
            field="plan",
            code="limit",
        )
    return PlanChoice(plan=plan, interval=interval, upgrade=upgrade)


def _billed_seats(tenant: Tenant, plan: str) -> int:
    return max(1, min(tenant.seat_limit, plan_spec(plan).seat_limit))


def plan_preview(*, actor: Membership, plan: str, interval: str) -> ChangePreview:
    require(actor, capabilities.MANAGE_BILLING)
    tenant = actor.tenant
    account = _live_account(tenant)
    _not_canceling(account)
    choice = check_plan_choice(tenant=tenant, account=account, plan=plan, interval=interval)
    price = price_in_currency(
        plan=plan, interval=interval, currency=account.currency or DEFAULT_CURRENCY
    )
    seats = _billed_seats(tenant, plan)
    try:
        invoice = stripe_api.invoice_preview(
            customer=account.stripe_customer_id,
            subscription_id=account.stripe_subscription_id,
            price=price,
            quantity=seats,
            prorate=choice.upgrade,
        )
    except stripe_api.StripeUnavailable as error:
        raise stripe_failed() from error
    total, proration = _preview_of(invoice)
    return ChangePreview(
        plan=plan,
        interval=interval,
        seats=seats,
        timing="now" if choice.upgrade else "period_end",
        next_invoice_total=total,
        proration=proration,
        next_invoice_at=account.current_period_end,
    )


def plan_change(*, actor: Membership, plan: str, interval: str) -> str:
    """Move the subscription to ``plan`` billed per ``interval``: an upgrade now (prorated),
    a downgrade when the paid period ends. Returns "now" or "period_end"."""
    require(actor, capabilities.MANAGE_BILLING)
    with transaction.atomic():
        tenant, found = _locked(actor.tenant_id)
        account = _check_live(tenant, found)
        _not_canceling(account)
        choice = check_plan_choice(tenant=tenant, account=account, plan=plan, interval=interval)
        price = price_in_currency(
            plan=plan, interval=interval, currency=account.currency or DEFAULT_CURRENCY
        )
        seats = _billed_seats(tenant, plan)
        before = {"plan": tenant.plan, "interval": account.interval}
        try:
            if account.stripe_schedule_id:
                # Another change was waiting for the period's end: this one replaces it.
                stripe_api.subscription_schedule_release(
                    schedule_id=account.stripe_schedule_id,
                    idempotency_key=f"release-{account.stripe_schedule_id}",
                )
            if choice.upgrade:
                updated = stripe_api.subscription_change_price(
                    subscription_id=account.stripe_subscription_id,
                    price=price,
                    quantity=seats,
                    idempotency_key=(
                        f"plan-{account.stripe_subscription_id}-"
                        f"{account.subscription_version}-{price}-{seats}"
                    ),
                )
            else:
                schedule = stripe_api.subscription_schedule_change(
                    subscription_id=account.stripe_subscription_id,
                    price=price,
                    quantity=seats,
                    interval=interval,
                    idempotency_key=(
                        f"schedule-{account.stripe_subscription_id}-"
                        f"{account.subscription_version}-{price}-{seats}"
                    ),
                )
                updated = stripe_api.subscription_retrieve(account.stripe_subscription_id)
        except stripe_api.StripeUnavailable as error:
            logger.warning("plan of %s not changed: %s", tenant.pk, error)
            raise stripe_failed() from error
        subscription_apply(
            customer=account.stripe_customer_id,
            subscription=updated,
            version=int(time.time()),
            source="plan",
        )
        if not choice.upgrade:
            BillingAccount.objects.filter(pk=account.pk).update(
                stripe_schedule_id=str(schedule["id"]),
                scheduled_plan=plan,
                scheduled_interval=interval,
            )
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action=PLAN_CHANGED if choice.upgrade else PLAN_CHANGE_SCHEDULED,
            data={"from": before, "to": {"plan": plan, "interval": interval}, "seats": seats},
        )
    return "now" if choice.upgrade else "period_end"


def plan_change_withdraw(*, actor: Membership) -> bool:
    """Drop the plan change waiting for the period's end. False when none was waiting."""
    require(actor, capabilities.MANAGE_BILLING)
    with transaction.atomic():
        tenant, account = _locked(actor.tenant_id)
        if account is None or not account.stripe_schedule_id:
            return False
        try:
            stripe_api.subscription_schedule_release(
                schedule_id=account.stripe_schedule_id,
                idempotency_key=f"release-{account.stripe_schedule_id}",
            )
        except stripe_api.StripeUnavailable as error:
            raise stripe_failed() from error
        withdrawn = {"plan": account.scheduled_plan, "interval": account.scheduled_interval}
        account.stripe_schedule_id = ""
        account.scheduled_plan = ""
        account.scheduled_interval = ""
        account.save(update_fields=["stripe_schedule_id", "scheduled_plan", "scheduled_interval"])
        audit_record(tenant=tenant, actor=actor.user, action=PLAN_CHANGE_WITHDRAWN, data=withdrawn)
    return True


# Cancel and resume


def subscription_cancel(*, actor: Membership) -> None:
    """The subscription ends with the paid period (no refund, nothing more charged); until
    then the workspace works as before and the cancellation can be withdrawn."""
    _set_canceling(actor=actor, cancel=True)


def subscription_resume(*, actor: Membership) -> None:
    """A subscription set to end with its period renews again."""
    _set_canceling(actor=actor, cancel=False)


def _set_canceling(*, actor: Membership, cancel: bool) -> None:
    require(actor, capabilities.MANAGE_BILLING)
    with transaction.atomic():
        tenant, account = _locked(actor.tenant_id)
        if (
            account is None
            or not account.stripe_subscription_id
            or (account.subscription_status in ENDED)
        ):
            raise ServiceError(
                _("This workspace has no subscription to change; choose a plan first."),
                code="no_subscription",
            )
        if account.cancel_at_period_end == cancel:
            raise ServiceError(
                _("The subscription is already set to end with this period.")
                if cancel
                else _("The subscription is not set to end; there is nothing to resume."),
                code="unchanged",
            )
        try:
            if cancel and account.stripe_schedule_id:
                # A plan change waiting for the period's end has no period to wait for.
                stripe_api.subscription_schedule_release(
                    schedule_id=account.stripe_schedule_id,
                    idempotency_key=f"release-{account.stripe_schedule_id}",
                )
            updated = stripe_api.subscription_set_cancel_at_period_end(
                subscription_id=account.stripe_subscription_id,
                cancel=cancel,
                idempotency_key=(
                    f"cancel-{account.stripe_subscription_id}-"
                    f"{account.subscription_version}-{int(cancel)}"
                ),
            )
        except stripe_api.StripeUnavailable as error:
            logger.warning("cancellation of %s not changed: %s", tenant.pk, error)
            raise stripe_failed() from error
        subscription_apply(
            customer=account.stripe_customer_id,
            subscription=updated,
            version=int(time.time()),
            source="cancel" if cancel else "resume",
        )
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action=SUBSCRIPTION_CANCEL_SCHEDULED if cancel else SUBSCRIPTION_RESUMED,
            data={"ends_at": account.current_period_end.isoformat()}
            if cancel and account.current_period_end
            else {},
        )
