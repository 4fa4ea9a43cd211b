"""The one permission question (D17): may this member use this capability, on this record?

``allows`` answers from the member's status and role, the workspace's plan and state, and —
for a record — how far the role's scope reaches (own / team / all), narrowed when the workspace
restricts record visibility (``Capability.restricted_scopes``). Page views (``requires``),
services (``require``), the API (``crm_platform.api.permissions.Allows``), templates (the
``allows`` filter) and sockets all call it; selectors narrow querysets with ``scope_filter``
so that a list shows exactly the records ``allows`` would grant one by one.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from crm_platform.errors import PermissionDenied
from tenants.capabilities import Capability, Scope
from tenants.models import Membership


class Owned(Protocol):
    """A record with an owner: the user id of the member responsible for it."""

    owner_id: int | None


def allows(
    membership: Membership | None,
    capability: Capability,
    obj: Any = None,
    *,
    reading: bool = False,
) -> bool:
    """``reading``: the caller only shows the capability's page (a GET), so a read-only
    workspace does not refuse it; its writes are refused anyway."""
    if membership is None or not membership.is_active:
        return False
    if membership.role not in capability.roles:
        return False
    tenant = membership.tenant
    if tenant.plan not in capability.plans:
        return False
    if capability.writes and tenant.is_read_only and not reading:
        return False
    if obj is not None and capability.is_record_scoped:
        scope = capability.scope_for(membership.role)
        if hasattr(obj, "owner_id"):
            # The workspace's visibility setting narrows owned records only: the catalogue
            # (products, pipelines, custom fields) stays in everyone's reach.
            scope = scope_of(membership, capability)
        return _reaches(membership, scope, obj)
    return True


def refused_by_plan(membership: Membership | None, capability: Capability) -> bool:
    """Whether the member's role holds ``capability`` but the workspace's plan does not."""
    return (
        membership is not None
        and membership.is_active
        and membership.role in capability.roles
        and membership.tenant.plan not in capability.plans
    )


def refusal_message(membership: Membership | None, capability: Capability) -> str:
    """Why ``capability`` is refused, in the member's words: their plan's or their role's."""
    if refused_by_plan(membership, capability):
        return _(
            "The workspace's plan does not include this. The owner or an admin can change "
            "the plan on the billing page."
        )
    return _("Your role does not allow this.")


def require(membership: Membership | None, capability: Capability, obj: Any = None) -> None:
    """For services: raise PermissionDenied unless ``allows``."""
    if not allows(membership, capability, obj):
        raise PermissionDenied(refusal_message(membership, capability))


def scope_of(membership: Membership, capability: Capability) -> Scope:
    """The member's reach: their role's, narrowed by the workspace's visibility setting."""
    return capability.scope_for(membership.role, membership.tenant)


def team_user_ids(membership: Membership) -> list[int]:
    """The users whose records a TEAM scope reaches: the member's team, or only the member."""
    if membership.team_id is None:
        return [membership.user_id]
    return list(
        Membership.objects.filter(
            tenant_id=membership.tenant_id, team_id=membership.team_id
        ).values_list("user_id", flat=True)
    )


def scope_filter(
    queryset: QuerySet[Any], membership: Membership, capability: Capability, *, owner_field: str
) -> QuerySet[Any]:
    """Narrow ``queryset`` to the records the member's scope reaches. Returns nothing at all if
    the member may not use the capability."""
    if not allows(membership, capability):
        return queryset.none()
    scope = scope_of(membership, capability)
    if scope is Scope.ALL:
        return queryset
    if scope is Scope.OWN:
        return queryset.filter(Q(**{f"{owner_field}_id": membership.user_id}))
    return queryset.filter(Q(**{f"{owner_field}_id__in": team_user_ids(membership)}))


def _reaches(membership: Membership, scope: Scope, obj: Owned) -> bool:
    if scope is Scope.ALL:
        return True
    owner_id = getattr(obj, "owner_id", None)
    if owner_id is None:
        # Unowned records are reachable only by roles that see everything.
        return False
    if scope is Scope.OWN:
        return bool(owner_id == membership.user_id)
    return bool(owner_id in team_user_ids(membership))
