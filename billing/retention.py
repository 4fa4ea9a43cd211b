"""A canceled workspace is kept read-only for ``BILLING_RETENTION_DAYS`` after its subscription
ended, with warnings to its billing managers 30, 7 and 1 days before; then its schema is
dropped by a Celery task through the foundation's ``workspace_delete``. Paying again before
then withdraws the deletion. Every step is recorded in the workspace's audit log while it
exists, and in ``WorkspaceDeletion`` (kept after the drop).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import ngettext

from billing.models import BillingAccount, WorkspaceDeletion
from billing.module import DELETION_CANCELED, DELETION_SCHEDULED, DELETION_WARNING_SENT
from tenants.audit.services import audit_record
from tenants.hosts import workspace_url
from tenants.models import Tenant
from tenants.services.workspace import workspace_delete

logger = logging.getLogger("rapport.billing")

# Days before the deletion on which billing managers are warned, largest first.
WARNING_DAYS: tuple[int, ...] = (30, 7, 1)


@dataclass(frozen=True)
class RetentionSweep:
    scheduled: int
    warned: int
    due: list[int]


def _deletable(tenant: Tenant) -> bool:
    """Canceled and otherwise live: a staff suspension (a legal hold, say) keeps it."""
    return (
        tenant.state == Tenant.State.ACTIVE
        and tenant.billing_status == Tenant.BillingStatus.CANCELED
        and not tenant.is_public
    )


def scheduled_deletion(tenant: Tenant) -> WorkspaceDeletion | None:
    return WorkspaceDeletion.objects.filter(
        tenant=tenant, status=WorkspaceDeletion.Status.SCHEDULED
    ).first()


def deletion_schedule(*, tenant: Tenant, now: datetime | None = None) -> WorkspaceDeletion | None:
    """Plan the deletion of a canceled workspace, counted from the end of its subscription.
    None when it is not canceled (any more) or already planned."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if not _deletable(locked) or scheduled_deletion(locked) is not None:
            return None
        account = BillingAccount.objects.filter(tenant=locked).first()
        ended = account.ended_at if account is not None and account.ended_at else now
        deletion = WorkspaceDeletion.objects.create(
            tenant=locked,
            schema_name=locked.schema_name,
            slug=locked.slug or "",
            name=locked.name,
            delete_after=ended + timedelta(days=settings.BILLING_RETENTION_DAYS),
            scheduled_at=now,
        )
        audit_record(
            tenant=locked,
            actor=None,
            action=DELETION_SCHEDULED,
            data={"delete_after": deletion.delete_after.isoformat()},
        )
    return deletion


def days_left(deletion: WorkspaceDeletion, *, now: datetime) -> int:
    """Whole days until the deletion, rounded up (a deletion in 29.5 days is "30 days")."""
    return max(0, math.ceil((deletion.delete_after - now).total_seconds() / 86400))


def deletion_warn(*, deletion_id: int, now: datetime | None = None) -> bool:
    """Send the warning due now unless it (or a later one) was sent. True when one was sent.
    A sweep that missed a warning sends only the latest one due."""
    now = now or timezone.now()
    with transaction.atomic():
        deletion = WorkspaceDeletion.objects.select_for_update().get(pk=deletion_id)
        if deletion.status != WorkspaceDeletion.Status.SCHEDULED or deletion.tenant is None:
            return False
        left = days_left(deletion, now=now)
        if left == 0:
            return False
        due = min((days for days in WARNING_DAYS if left <= days), default=None)
        if due is None or (
            deletion.last_warning_days is not None and deletion.last_warning_days <= due
        ):
            return False
        deletion.last_warning_days = due
        deletion.save(update_fields=["last_warning_days"])
        tenant = deletion.tenant
        audit_record(
            tenant=tenant, actor=None, action=DELETION_WARNING_SENT, data={"days_before": due}
        )
        transaction.on_commit(partial(_send_warning, tenant, deletion.delete_after, left))
    return True


def _send_warning(tenant: Tenant, delete_after: datetime, left: int) -> None:
    from billing.services import billing_managers

    url = workspace_url(tenant.slug or "", "/billing/")
    for member in billing_managers(tenant):
        with translation.override(member.user.language or settings.LANGUAGE_CODE):
            subject = ngettext(
                "%(workspace)s will be deleted from Rapport in %(days)d day",
                "%(workspace)s will be deleted from Rapport in %(days)d days",
                left,
            ) % {"workspace": tenant.name, "days": left}
            body = render_to_string(
                "email/workspace_deletion_warning.txt",
                {
                    "workspace": tenant,
                    "days": left,
                    "date": formats.date_format(timezone.localtime(delete_after), "DATE_FORMAT"),
                    "url": url,
                },
            )
        send_mail(subject, body, None, [member.user.email])


def deletion_cancel(*, tenant: Tenant, source: str) -> bool:
    """The workspace pays again: its planned deletion is withdrawn. True when one was."""
    with transaction.atomic():
        deletion = (
            WorkspaceDeletion.objects.select_for_update()
            .filter(tenant=tenant, status=WorkspaceDeletion.Status.SCHEDULED)
            .first()
        )
        if deletion is None:
            return False
        deletion.status = WorkspaceDeletion.Status.CANCELED
        deletion.canceled_at = timezone.now()
        deletion.save(update_fields=["status", "canceled_at"])
        audit_record(tenant=tenant, actor=None, action=DELETION_CANCELED, data={"event": source})
    return True


def workspace_drop(*, deletion_id: int, now: datetime | None = None) -> bool:
    """Drop the workspace of a due deletion, unless it pays again or was suspended meanwhile
    (checked again under the locks). True when it was dropped.

    Locks in the order every Stripe event's handler does (the workspace's billing account,
    then the workspace, then its deletion): a subscription event that arrives for the
    workspace at this moment, and may withdraw the deletion, then waits for the drop or the
    drop for it, instead of each holding what the other needs. Dropping the workspace also
    deletes its billing account, which is locked first for the same reason."""
    now = now or timezone.now()
    tenant_id = (
        WorkspaceDeletion.objects.filter(pk=deletion_id).values_list("tenant_id", flat=True).first()
    )
    if tenant_id is None:
        return False
    with transaction.atomic():
        BillingAccount.objects.select_for_update().filter(tenant_id=tenant_id).first()
        tenant = Tenant.objects.select_for_update().filter(pk=tenant_id).first()
        if tenant is None:
            return False
        deletion = WorkspaceDeletion.objects.select_for_update().get(pk=deletion_id)
        if (
            deletion.status != WorkspaceDeletion.Status.SCHEDULED
            or deletion.delete_after > now
            or deletion.tenant_id != tenant.pk
            or not _deletable(tenant)
        ):
            return False
        deletion.status = WorkspaceDeletion.Status.DONE
        deletion.deleted_at = now
        deletion.save(update_fields=["status", "deleted_at"])
        workspace_delete(tenant=tenant, actor=None)
    logger.info(
        "canceled workspace deleted after the retention period",
        extra={"schema": deletion.schema_name, "slug": deletion.slug, "deletion": deletion.pk},
    )
    return True


def retention_sweep(*, now: datetime | None = None) -> RetentionSweep:
    """Run by Celery beat: plan the deletion of every canceled workspace, send the warnings
    due, and return the deletions due now (their drop is a task of its own). Safe to run
    again."""
    now = now or timezone.now()
    scheduled = 0
    canceled = Tenant.objects.filter(
        state=Tenant.State.ACTIVE, billing_status=Tenant.BillingStatus.CANCELED
    ).exclude(deletions__status=WorkspaceDeletion.Status.SCHEDULED)
    for tenant in canceled.order_by("pk"):
        scheduled += deletion_schedule(tenant=tenant, now=now) is not None
    warned = 0
    due: list[int] = []
    pending = WorkspaceDeletion.objects.filter(status=WorkspaceDeletion.Status.SCHEDULED)
    for deletion in pending.order_by("delete_after", "pk"):
        if deletion.delete_after <= now:
            due.append(deletion.pk)
        else:
            warned += deletion_warn(deletion_id=deletion.pk, now=now)
    return RetentionSweep(scheduled=scheduled, warned=warned, due=due)
