"""Monthly quotas: a manager sets what a member is expected to win in a month (or removes it).
Setting the same member and month again changes the one quota. Each change is audited and
refreshes open dashboards (the forecast against quota) after commit."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.reporting.models import Quota
from crm_modules.reporting.module import QUOTA_DELETED, QUOTA_SET, SET_QUOTAS
from crm_modules.reporting.services.reports import dashboard_announce
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

QUOTA_EVENT = "quota.changed"
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-\d{2})?$")
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_AMOUNT = Decimal("1e15")


def check_month(raw: Any, *, field: str = "month") -> datetime.date:
    """A month as ``YYYY-MM`` (or any day of it, ``YYYY-MM-DD``): its first day."""
    if isinstance(raw, datetime.date):
        year, month = raw.year, raw.month
    else:
        match = _MONTH.match(str(raw or "").strip()) if isinstance(raw, str) else None
        if match is None:
            raise ServiceError(_("Enter a month such as 2026-03."), field=field)
        year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ServiceError(_("Enter a month such as 2026-03."), field=field)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ServiceError(
            _("Choose a month between %(first)s and %(last)s.")
            % {"first": FIRST_YEAR, "last": LAST_YEAR},
            field=field,
        )
    return datetime.date(year, month, 1)


def check_quota_amount(raw: Any, *, field: str = "amount") -> Decimal:
    if raw in (None, "") or isinstance(raw, bool):
        raise ServiceError(_("Enter the quota, such as 50000."), field=field, code="required")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ServiceError(_("Enter the quota, such as 50000."), field=field) from None
    if not value.is_finite() or value < 0:
        raise ServiceError(_("Enter a quota of zero or more."), field=field)
    if value >= MAX_AMOUNT:
        raise ServiceError(_("The quota is too large."), field=field)
    return value.quantize(Decimal("0.01"))


def check_member(actor: Membership, raw: Any, *, field: str = "owner") -> int:
    """The user id of an active member of the actor's workspace."""
    try:
        user_id = int(raw)
    except (TypeError, ValueError):
        raise ServiceError(_("Choose a member of this workspace."), field=field) from None
    if not Membership.objects.filter(
        tenant_id=actor.tenant_id, user_id=user_id, status=Membership.Status.ACTIVE
    ).exists():
        raise ServiceError(_("Choose a member of this workspace."), field=field)
    return user_id


def _reach(actor: Membership, user_id: int) -> None:
    """A Manager sets the quotas of their team only."""
    try:
        require(actor, SET_QUOTAS, Quota(owner_id=user_id))
    except PermissionDenied:
        raise ServiceError(
            _("You may set quotas only for the members of your team."), field="owner"
        ) from None


def quota_set(*, actor: Membership, owner: Any, month: Any, amount: Any) -> Quota:
    require(actor, SET_QUOTAS)
    user_id = check_member(actor, owner)
    first_day = check_month(month)
    value = check_quota_amount(amount)
    _reach(actor, user_id)
    now = timezone.now()
    with transaction.atomic():
        quota = Quota.objects.select_for_update().filter(owner_id=user_id, month=first_day).first()
        if quota is None:
            try:
                with transaction.atomic():
                    quota = Quota.objects.create(
                        owner_id=user_id,
                        month=first_day,
                        amount=value,
                        set_by=actor.user,
                        updated_at=now,
                    )
            except IntegrityError:
                # Someone set the same member and month a moment ago: change theirs.
                quota = Quota.objects.select_for_update().get(owner_id=user_id, month=first_day)
        _reach(actor, user_id)
        previous = quota.amount
        quota.amount, quota.set_by, quota.updated_at = value, actor.user, now
        quota.save(update_fields=["amount", "set_by", "updated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=QUOTA_SET,
            target=quota,
            data={
                "member": user_id,
                "month": first_day.isoformat(),
                "amount": str(value),
                "previous": str(previous) if previous != value else None,
            },
        )
        dashboard_announce(tenant=actor.tenant, event=QUOTA_EVENT, payload={"quota": quota.pk})
    return quota


def quota_delete(*, actor: Membership, quota: Quota) -> None:
    require(actor, SET_QUOTAS, quota)
    with transaction.atomic():
        locked = Quota.objects.select_for_update().filter(pk=quota.pk).first()
        if locked is None:
            return
        require(actor, SET_QUOTAS, locked)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=QUOTA_DELETED,
            target_repr=str(locked),
            data={
                "id": locked.pk,
                "member": locked.owner_id,
                "month": locked.month.isoformat(),
                "amount": str(locked.amount),
            },
        )
        locked.delete()
        dashboard_announce(tenant=actor.tenant, event=QUOTA_EVENT, payload={"quota": quota.pk})
