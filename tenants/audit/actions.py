"""Readable names for audit actions. Each module registers the actions it records."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_LABELS: dict[str, str | Promise] = {}


def register_action(code: str, label: str | Promise) -> None:
    _LABELS[code] = label


def action_label(code: str) -> str:
    return str(_LABELS.get(code, code))


for _code, _label in (
    ("workspace.created", _("Workspace created")),
    ("workspace.suspended", _("Workspace suspended")),
    ("workspace.reactivated", _("Workspace reactivated")),
    ("settings.updated", _("Settings changed")),
    ("member.signed_in", _("Signed in to the workspace")),
    ("member.role_changed", _("Role changed")),
    ("member.deactivated", _("Member deactivated")),
    ("member.reactivated", _("Member reactivated")),
    ("ownership.transferred", _("Ownership transferred")),
    ("invitation.created", _("Invitation sent")),
    ("invitation.resent", _("Invitation resent")),
    ("invitation.revoked", _("Invitation revoked")),
    ("invitation.accepted", _("Invitation accepted")),
    ("members.exported", _("Members exported")),
):
    register_action(_code, _label)
