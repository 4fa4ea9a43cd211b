"""What every workspace service shares: the capability check on the actor, role validation and
field limits."""

from __future__ import annotations

from django.utils.translation import gettext as _

from crm_platform.errors import ServiceError
from tenants import capabilities
from tenants.models import Membership
from tenants.permissions import require
from tenants.roles import ALL_ROLES

INVITATION_SALT = "rapport.invitation"
NAME_MAX = 100
FULL_NAME_MAX = 150


def check_role(raw: str) -> str:
    if raw not in ALL_ROLES:
        raise ServiceError(_("Choose a valid role."), field="role")
    return raw


def require_capability(membership: Membership, capability: capabilities.Capability) -> None:
    """The one permission question (``tenants.permissions.allows``), asked by a service."""
    require(membership, capability)


def lock_membership(pk: int) -> Membership:
    """The membership row, locked for this transaction and read afresh (DESIGN.md item 15).

    Call after ``lock_tenant``: every member and invitation service takes the workspace row
    first, so locks are always taken in the same order."""
    return (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "tenant")
        .get(pk=pk)
    )


def lock_actor(actor: Membership, *required: capabilities.Capability) -> Membership:
    """Check again, under the lock, that the actor is still an active member whose current role
    allows the action: a role change or deactivation may have committed since the request
    read it."""
    locked = lock_membership(actor.pk)
    for capability in required:
        require_capability(locked, capability)
    return locked
