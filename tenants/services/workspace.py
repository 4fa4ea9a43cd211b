"""Workspace settings and lifecycle: settings, suspension, reactivation and deletion."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from crm_platform.errors import ServiceError
from crm_platform.validation import (
    check_text,
    check_time_zone,
)
from tenants import capabilities
from tenants.audit.services import audit_record
from tenants.currencies import CURRENCY_CODES
from tenants.models import Membership, Tenant, User
from tenants.notifications import disconnect_workspace
from tenants.policies import MFA_POLICY_ROLES, disconnect_if_mfa_policy_unmet
from tenants.services.common import (
    NAME_MAX,
    lock_actor,
    require_capability,
)
from tenants.services.seats import lock_tenant

logger = logging.getLogger(__name__)


def workspace_update_settings(
    *,
    actor: Membership,
    name: str,
    time_zone: str,
    currency: str,
    require_mfa_for_admins: bool,
    restrict_record_visibility: bool | None = None,
    ip_address: str | None = None,
) -> Tenant:
    """``restrict_record_visibility``: None keeps the current setting."""
    require_capability(actor, capabilities.MANAGE_SETTINGS)
    name = check_text(name, field="name", max_length=NAME_MAX, label=_("Workspace name"))
    check_time_zone(time_zone)
    if currency not in CURRENCY_CODES:
        raise ServiceError(_("Choose a currency from the list."), field="currency")
    if require_mfa_for_admins and not is_mfa_enabled(actor.user):
        # Turned on by someone without it, the policy would lock them out on the next page.
        raise ServiceError(
            _("Set up two-factor authentication for your own account before requiring it."),
            field="require_mfa_for_admins",
            code="mfa_missing",
        )
    with transaction.atomic():
        tenant = lock_tenant(actor.tenant)
        actor = lock_actor(actor, capabilities.MANAGE_SETTINGS)
        new = {
            "name": name,
            "time_zone": time_zone,
            "currency": currency,
            "require_mfa_for_admins": require_mfa_for_admins,
            "restrict_record_visibility": (
                tenant.restrict_record_visibility
                if restrict_record_visibility is None
                else restrict_record_visibility
            ),
        }
        changes = {
            field: {"from": getattr(tenant, field), "to": value}
            for field, value in new.items()
            if getattr(tenant, field) != value
        }
        if not changes:
            return tenant
        for field, value in new.items():
            setattr(tenant, field, value)
        tenant.save(update_fields=list(changes))
        if "require_mfa_for_admins" in changes and require_mfa_for_admins:
            for membership in Membership.objects.filter(
                tenant=tenant, role__in=MFA_POLICY_ROLES, status=Membership.Status.ACTIVE
            ).select_related("user"):
                membership.tenant = tenant
                disconnect_if_mfa_policy_unmet(membership)
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action="settings.updated",
            target_repr=tenant.name,
            data=changes,
            ip_address=ip_address,
        )
    return tenant


def workspace_logo_set(*, actor: Membership, logo_key: str, ip_address: str | None = None) -> str:
    """Point the workspace at a verified logo object (``""`` removes the logo); returns the key
    it replaced, whose object the caller deletes after commit."""
    require_capability(actor, capabilities.MANAGE_SETTINGS)
    with transaction.atomic():
        tenant = lock_tenant(actor.tenant)
        locked = lock_actor(actor, capabilities.MANAGE_SETTINGS)
        previous = tenant.logo_key
        if previous == logo_key:
            return ""
        tenant.logo_key = logo_key
        tenant.save(update_fields=["logo_key"])
        audit_record(
            tenant=tenant,
            actor=locked.user,
            action="settings.logo_changed" if logo_key else "settings.logo_removed",
            target_repr=tenant.name,
            data={},
            ip_address=ip_address,
        )
    actor.tenant.logo_key = logo_key
    return previous


# What platform staff may change on a workspace's row from the admin.
STAFF_EDITABLE = ("name", "plan", "seat_limit", "trial_ends_at")


def workspace_update_by_staff(
    *, tenant: Tenant, actor: User, changes: dict[str, Any], ip_address: str | None = None
) -> dict[str, dict[str, Any]]:
    """A platform staff edit of the workspace's name, plan, seat limit or trial end (values
    already validated by the admin's form). Recorded in the workspace's own audit log, so its
    owners see who at Rapport changed what; returns the changes made, from and to."""
    unknown = set(changes) - set(STAFF_EDITABLE)
    if unknown:
        raise ValueError(f"not editable by staff: {sorted(unknown)}")
    with transaction.atomic():
        tenant = lock_tenant(tenant)
        made = {
            field: {"from": _audit_value(getattr(tenant, field)), "to": _audit_value(value)}
            for field, value in changes.items()
            if getattr(tenant, field) != value
        }
        if not made:
            return made
        for field in made:
            setattr(tenant, field, changes[field])
        tenant.save(update_fields=list(made))
        audit_record(
            tenant=tenant,
            actor=actor,
            action="workspace.changed_by_staff",
            target_repr=tenant.name,
            data=made,
            ip_address=ip_address,
        )
    return made


def _audit_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def workspace_suspend(*, tenant: Tenant, actor: User) -> Tenant:
    """Make the workspace read-only (platform staff)."""
    return _workspace_change_state(
        tenant=tenant,
        actor=actor,
        allowed_from=Tenant.State.ACTIVE,
        to=Tenant.State.SUSPENDED,
        action="workspace.suspended",
        refusal=_("Only an active workspace can be suspended."),
    )


def workspace_reactivate(*, tenant: Tenant, actor: User) -> Tenant:
    return _workspace_change_state(
        tenant=tenant,
        actor=actor,
        allowed_from=Tenant.State.SUSPENDED,
        to=Tenant.State.ACTIVE,
        action="workspace.reactivated",
        refusal=_("Only a suspended workspace can be reactivated."),
    )


def _workspace_change_state(
    *, tenant: Tenant, actor: User, allowed_from: str, to: str, action: str, refusal: str
) -> Tenant:
    with transaction.atomic():
        tenant = lock_tenant(tenant)
        if tenant.state != allowed_from:
            raise ServiceError(refusal, code="state")
        tenant.state = to
        tenant.save(update_fields=["state"])
        audit_record(tenant=tenant, actor=actor, action=action, target_repr=tenant.name)
        if to == Tenant.State.SUSPENDED:
            # Suspension ends the workspace's live sessions: open pages are told, and a new
            # page sees the workspace read-only.
            disconnect_workspace(tenant=tenant, reason="suspended")
    return tenant


def workspace_delete(*, tenant: Tenant, actor: User | None) -> None:
    """Drop the schema and every platform row of the workspace (domains, seats, invitations),
    and, once that is committed, its files in the bucket (a task that retries until S3 has
    deleted them all)."""
    from tenants.tasks import purge_workspace_objects

    if tenant.is_public:
        raise ServiceError(_("The public schema cannot be deleted."), code="public")
    schema, slug = tenant.schema_name, tenant.slug
    with transaction.atomic():
        tenant = lock_tenant(tenant)
        disconnect_workspace(tenant=tenant, reason="deleted")
        with schema_context("public"):
            tenant.delete(force_drop=True)
        transaction.on_commit(lambda: purge_workspace_objects.delay(schema))
    logger.info(
        "workspace deleted",
        extra={"schema": schema, "slug": slug, "actor": actor.email if actor else "system"},
    )
