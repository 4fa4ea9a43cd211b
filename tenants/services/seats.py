"""Seats: the workspace row lock that serialises seat-taking writes, and the seat check."""

from __future__ import annotations

import logging

from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError
from tenants.models import Tenant
from tenants.selectors import seats_used

logger = logging.getLogger(__name__)


def check_seat_available(*, tenant: Tenant) -> None:
    """Call with the tenant row locked (select_for_update) so two admins cannot both take the
    last seat."""
    if seats_used(tenant=tenant) >= tenant.seat_limit:
        raise ServiceError(
            _(
                "All %(limit)d seats of your plan are in use. Deactivate a member, revoke an "
                "invitation or add seats to your plan."
            )
            % {"limit": tenant.seat_limit},
            field="email",
            code="seat_limit",
        )


def lock_tenant(tenant: Tenant) -> Tenant:
    return Tenant.objects.select_for_update().get(pk=tenant.pk)
