"""Writes for workspaces, seats, members, invitations and accounts, one module per concern.
Views, commands, tasks and the admin call these functions; each validates first, then mutates
atomically, records an audit event and sends notifications after commit.

The package re-exports every service so callers write ``services.member_change_role(...)``.
"""

from tenants.services.accounts import account_set_language, account_update_preferences
from tenants.services.common import (
    FULL_NAME_MAX,
    INVITATION_SALT,
    NAME_MAX,
    check_role,
    require_capability,
)
from tenants.services.invitations import (
    InvitationInvalid,
    invitation_accept,
    invitation_accept_new_account,
    invitation_create,
    invitation_from_token,
    invitation_resend,
    invitation_revoke,
    invitation_token,
    invitation_url,
)
from tenants.services.members import (
    member_change_role,
    member_deactivate,
    member_reactivate,
    member_record_sign_in,
    members_export,
    ownership_transfer,
)
from tenants.services.provisioning import (
    SignupResult,
    check_slug_free,
    spare_pool_replenish,
    spare_workspace_create,
    workspace_create,
    workspace_signup,
)
from tenants.services.seats import check_seat_available, lock_tenant
from tenants.services.signup import (
    SignupLinkInvalid,
    signup_confirm,
    signup_from_link,
    signup_mail_send,
    signup_request,
)
from tenants.services.workspace import (
    workspace_delete,
    workspace_reactivate,
    workspace_suspend,
    workspace_update_by_staff,
    workspace_update_settings,
)

__all__ = [
    "FULL_NAME_MAX",
    "INVITATION_SALT",
    "NAME_MAX",
    "InvitationInvalid",
    "SignupLinkInvalid",
    "SignupResult",
    "account_set_language",
    "account_update_preferences",
    "check_role",
    "check_seat_available",
    "check_slug_free",
    "invitation_accept",
    "invitation_accept_new_account",
    "invitation_create",
    "invitation_from_token",
    "invitation_resend",
    "invitation_revoke",
    "invitation_token",
    "invitation_url",
    "lock_tenant",
    "member_change_role",
    "member_deactivate",
    "member_reactivate",
    "member_record_sign_in",
    "members_export",
    "ownership_transfer",
    "require_capability",
    "signup_confirm",
    "signup_from_link",
    "signup_mail_send",
    "signup_request",
    "spare_pool_replenish",
    "spare_workspace_create",
    "workspace_create",
    "workspace_delete",
    "workspace_reactivate",
    "workspace_signup",
    "workspace_suspend",
    "workspace_update_by_staff",
    "workspace_update_settings",
]
