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
