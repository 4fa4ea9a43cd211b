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


def disconnect_if_mfa_policy_unmet(membership: Membership) -> None:
    """Close the member's open sockets when the policy now stops them (after commit): the
    browser does not wait for its next request or reconnect to find out."""
    from tenants.notifications import disconnect_user

    if mfa_policy_unmet(membership):
        disconnect_user(tenant=membership.tenant, user_id=membership.user_id, reason="mfa_required")
