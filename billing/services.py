"""Billing writes: the trial's reminders and its end (validate → lock → check again → mutate →
audit → side effects on commit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.models import TrialReminder
from billing.module import TRIAL_EXPIRED, TRIAL_REMINDER_SENT
from tenants import capabilities
from tenants.audit.services import audit_record
from tenants.hosts import workspace_url
from tenants.models import Membership, Plan, Tenant
from tenants.selectors import trial_days_left

# Days before the trial's end on which the billing managers get a reminder, largest first.
REMINDER_DAYS: tuple[int, ...] = (3, 1)


@dataclass(frozen=True)
class TrialSweep:
    reminded: int
    expired: int


def _on_trial(tenant: Tenant) -> bool:
    return (
        tenant.state == Tenant.State.ACTIVE
        and tenant.plan == Plan.TRIAL
        and tenant.billing_status == Tenant.BillingStatus.TRIALING
        and tenant.trial_ends_at is not None
    )


def reminder_due(tenant: Tenant, *, now: datetime) -> int | None:
    """The reminder this trial should have had by now (3 or 1 days before its end), or None.
    A sweep that missed a day sends only the latest one, never a stale one."""
    days_left = trial_days_left(tenant, now=now)
    if days_left is None or days_left == 0:
        return None
    due = [days for days in REMINDER_DAYS if days_left <= days]
    return min(due) if due else None


def trial_remind(*, tenant: Tenant, now: datetime | None = None) -> bool:
    """Send the due reminder unless it was sent already. True when one was sent."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if not _on_trial(locked):
            return False
        days_before = reminder_due(locked, now=now)
        if days_before is None:
            return False
        try:
            with transaction.atomic():
                TrialReminder.objects.create(tenant=locked, days_before=days_before, sent_at=now)
        except IntegrityError:
            return False  # sent already
        audit_record(
            tenant=locked,
            actor=None,
            action=TRIAL_REMINDER_SENT,
            data={"days_before": days_before},
        )
        days_left = trial_days_left(locked, now=now) or 0
        transaction.on_commit(partial(_send_trial_reminder, locked, days_left))
    return True


def trial_expire(*, tenant: Tenant, now: datetime | None = None) -> bool:
    """A trial past its end without a subscription becomes read-only; its data is kept."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if not _on_trial(locked) or locked.trial_ends_at is None or locked.trial_ends_at > now:
            return False
        locked.billing_status = Tenant.BillingStatus.TRIAL_EXPIRED
        locked.save(update_fields=["billing_status"])
        audit_record(tenant=locked, actor=None, action=TRIAL_EXPIRED)
    return True


def trial_sweep(*, now: datetime | None = None) -> TrialSweep:
    """Run by Celery beat: remind and expire every trial that is due. Safe to run again."""
    now = now or timezone.now()
    reminded = expired = 0
    trials = Tenant.objects.filter(
        state=Tenant.State.ACTIVE,
        plan=Plan.TRIAL,
        billing_status=Tenant.BillingStatus.TRIALING,
        trial_ends_at__isnull=False,
    ).order_by("pk")
    for tenant in trials:
        if tenant.trial_ends_at is not None and tenant.trial_ends_at <= now:
            expired += trial_expire(tenant=tenant, now=now)
        else:
            reminded += trial_remind(tenant=tenant, now=now)
    return TrialSweep(reminded=reminded, expired=expired)


def billing_managers(tenant: Tenant) -> list[Membership]:
    roles = capabilities.MANAGE_BILLING.roles
    return list(
        Membership.objects.filter(
            tenant=tenant, status=Membership.Status.ACTIVE, role__in=roles
        ).select_related("user")
    )


def _send_trial_reminder(tenant: Tenant, days_left: int) -> None:
    url = workspace_url(tenant.slug or "", "/billing/")
    for member in billing_managers(tenant):
        language = member.user.language or settings.LANGUAGE_CODE
        with translation.override(language):
            subject = _("Your Rapport trial for %(workspace)s ends soon") % {
                "workspace": tenant.name
            }
            body = render_to_string(
                "email/trial_reminder.txt",
                {"workspace": tenant, "days": days_left, "url": url, "member": member},
            )
        send_mail(subject, body, None, [member.user.email])
