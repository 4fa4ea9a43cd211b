"""Seats: the workspace row lock that serialises seat-taking writes, and the seat check."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError
from tenants.models import Tenant
from tenants.selectors import seats_used

logger = logging.getLogger(__name__)

# Sent after the commit of every change to the seats taken (an invitation made, revoked or
# accepted, a member deactivated or reactivated), with ``tenant_id``. Billing listens to bill
# the seats in use.
seats_changed = Signal()

# The most seats a workspace may take now. Billing registers one at start-up (a paying
# workspace grows up to its plan's cap, the extra seats billed pro rata); without it, the
# workspace's seat limit.
_seat_cap: list[Callable[[Tenant], int]] = []


def register_seat_cap(cap: Callable[[Tenant], int]) -> None:
    _seat_cap[:] = [cap]


def seat_cap(tenant: Tenant) -> int:
    return _seat_cap[0](tenant) if _seat_cap else tenant.seat_limit


def seats_changed_on_commit(tenant: Tenant) -> None:
    tenant_id = tenant.pk
    transaction.on_commit(lambda: seats_changed.send(sender=Tenant, tenant_id=tenant_id))


def check_seat_available(*, tenant: Tenant) -> None:
    """Call with the tenant row locked (select_for_update) so two admins cannot both take the
    last seat."""
    limit = seat_cap(tenant)
    if seats_used(tenant=tenant) >= limit:
        raise ServiceError(
            _(
                "All %(limit)d seats of your plan are in use. Deactivate a member, revoke an "
                "invitation or add seats to your plan."
            )
            % {"limit": limit},
            field="email",
            code="seat_limit",
        )


def lock_tenant(tenant: Tenant) -> Tenant:
    return Tenant.objects.select_for_update().get(pk=tenant.pk)
