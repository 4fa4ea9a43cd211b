"""The audit-action registry: each module registers the actions it records, with a readable,
translated name. ``audit_record`` refuses an action nobody registered, and the audit log's filter
lists actions from here (not from whatever happens to be in the log)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class AuditAction:
    code: str
    label: str | Promise
    module: str | Promise

    def __str__(self) -> str:
        return self.code


_REGISTRY: dict[str, AuditAction] = {}

PLATFORM = _("Workspace")


def register_action(
    code: str, label: str | Promise, *, module: str | Promise = PLATFORM
) -> AuditAction:
    existing = _REGISTRY.get(code)
    if existing is not None:
        raise ValueError(f"Audit action {code} is already registered")
    action = AuditAction(code=code, label=label, module=module)
    _REGISTRY[code] = action
    return action


def unregister_action(code: str) -> None:
    _REGISTRY.pop(code, None)


def get_action(code: str) -> AuditAction:
    try:
        return _REGISTRY[code]
    except KeyError:
        raise ValueError(f"Audit action {code} is not registered") from None


def all_actions() -> list[AuditAction]:
    return list(_REGISTRY.values())


def action_label(code: str) -> str:
    """The readable name of an action; a code no longer registered shows as itself."""
    action = _REGISTRY.get(code)
    return str(action.label) if action is not None else code


WORKSPACE_CREATED = register_action("workspace.created", _("Workspace created"))
WORKSPACE_SUSPENDED = register_action("workspace.suspended", _("Workspace suspended"))
WORKSPACE_REACTIVATED = register_action("workspace.reactivated", _("Workspace reactivated"))
WORKSPACE_CHANGED_BY_STAFF = register_action(
    "workspace.changed_by_staff", _("Workspace changed by Rapport staff")
)
SETTINGS_UPDATED = register_action("settings.updated", _("Settings changed"))
LOGO_CHANGED = register_action("settings.logo_changed", _("Workspace logo changed"))
LOGO_REMOVED = register_action("settings.logo_removed", _("Workspace logo removed"))
MEMBER_SIGNED_IN = register_action("member.signed_in", _("Signed in to the workspace"))
MEMBER_ROLE_CHANGED = register_action("member.role_changed", _("Role changed"))
MEMBER_DEACTIVATED = register_action("member.deactivated", _("Member deactivated"))
MEMBER_REACTIVATED = register_action("member.reactivated", _("Member reactivated"))
OWNERSHIP_TRANSFERRED = register_action("ownership.transferred", _("Ownership transferred"))
INVITATION_CREATED = register_action("invitation.created", _("Invitation sent"))
INVITATION_RESENT = register_action("invitation.resent", _("Invitation resent"))
INVITATION_REVOKED = register_action("invitation.revoked", _("Invitation revoked"))
INVITATION_ACCEPTED = register_action("invitation.accepted", _("Invitation accepted"))
MEMBERS_EXPORTED = register_action("members.exported", _("Members exported"))
