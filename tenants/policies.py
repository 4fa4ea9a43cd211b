"""Workspace security policies, asked on every request to a workspace host and on every socket
connect (not only when entering the workspace): a policy turned on, or a role given, applies
from the next request."""

from __future__ import annotations

from allauth.mfa.utils import is_mfa_enabled

from tenants.models import Membership
from tenants.roles import Role

MFA_POLICY_ROLES = (Role.OWNER, Role.ADMIN)


def mfa_policy_unmet(membership: Membership) -> bool:
    """The workspace requires two-factor authentication for owners and admins, the member is
    one, and their account has none."""
    return (
        membership.tenant.require_mfa_for_admins
        and membership.role in MFA_POLICY_ROLES
        and not is_mfa_enabled(membership.user)
    )
