"""Members of a workspace: role changes, deactivation, ownership, sign-in record and export."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm_platform.csv_export import csv_text
from crm_platform.errors import PermissionDenied, ServiceError
from tenants import capabilities
from tenants.audit.services import audit_record
from tenants.models import Membership, Tenant
from tenants.notifications import disconnect_user, notify_user
from tenants.policies import disconnect_if_mfa_policy_unmet
from tenants.roles import Role
from tenants.selectors import member_list
from tenants.services.common import (
    check_role,
    lock_membership,
    require_capability,
)
from tenants.services.seats import check_seat_available, lock_tenant, seats_changed_on_commit

logger = logging.getLogger(__name__)


def _active_owner_count(tenant: Tenant) -> int:
    return Membership.objects.filter(
        tenant=tenant, role=Role.OWNER, status=Membership.Status.ACTIVE
    ).count()


def _check_may_manage(actor: Membership, target: Membership) -> None:
    require_capability(actor, capabilities.MANAGE_MEMBERS)
    if target.tenant_id != actor.tenant_id:
        raise PermissionDenied(_("This member belongs to another workspace."))
    if target.role == Role.OWNER:
        require_capability(actor, capabilities.TRANSFER_OWNERSHIP)


def _lock_actor_and_member(
    actor: Membership, member: Membership
) -> tuple[Tenant, Membership, Membership]:
    """Lock the workspace, then re-read the actor's and the member's rows under the lock and
    check the actor may still manage that member, as both are now (check, lock, check again)."""
    tenant = lock_tenant(actor.tenant)
    locked_actor = lock_membership(actor.pk)
    locked_member = lock_membership(member.pk)
    _check_may_manage(locked_actor, locked_member)
    return tenant, locked_actor, locked_member


def member_change_role(
    *, actor: Membership, member: Membership, role: str, ip_address: str | None = None
) -> Membership:
    role = check_role(role)
    _check_may_manage(actor, member)
    if role == Role.OWNER:
        require_capability(actor, capabilities.TRANSFER_OWNERSHIP)
    with transaction.atomic():
        tenant, actor, member = _lock_actor_and_member(actor, member)
        if role == Role.OWNER:
            require_capability(actor, capabilities.TRANSFER_OWNERSHIP)
        old_role = member.role
        if old_role == role:
            return member
        if old_role == Role.OWNER and member.is_active and _active_owner_count(tenant) <= 1:
            raise ServiceError(
                _("A workspace needs at least one Owner. Make someone else Owner first."),
                field="role",
                code="last_owner",
            )
        member.role = role
        member.save(update_fields=["role"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action="member.role_changed",
            target=member,
            target_repr=member.user.email,
            data={"from": old_role, "to": role},
            ip_address=ip_address,
        )
        _notify_role(tenant=tenant, member=member)
        member.tenant = tenant
        disconnect_if_mfa_policy_unmet(member)
    return member


def _notify_role(*, tenant: Tenant, member: Membership) -> None:
    """Tell the member's open pages their new role, named in their own language."""
    with translation.override(member.user.language or settings.LANGUAGE_CODE):
        label = str(Role(member.role).label)
    notify_user(
        tenant=tenant,
        user_id=member.user_id,
        event="role.changed",
        payload={"role": member.role, "role_label": label},
    )


def member_deactivate(
    *, actor: Membership, member: Membership, ip_address: str | None = None
) -> Membership:
    _check_may_manage(actor, member)
    if member.pk == actor.pk:
        raise ServiceError(_("You cannot deactivate yourself."), code="self")
    with transaction.atomic():
        tenant, actor, member = _lock_actor_and_member(actor, member)
        if not member.is_active:
            return member
        if member.role == Role.OWNER and _active_owner_count(tenant) <= 1:
            raise ServiceError(_("The last Owner cannot be deactivated."), code="last_owner")
        member.status = Membership.Status.DEACTIVATED
        member.deactivated_at = timezone.now()
        member.save(update_fields=["status", "deactivated_at"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action="member.deactivated",
            target=member,
            target_repr=member.user.email,
            ip_address=ip_address,
        )
        disconnect_user(tenant=tenant, user_id=member.user_id, reason="deactivated")
        seats_changed_on_commit(tenant)
    return member


def member_reactivate(
    *, actor: Membership, member: Membership, ip_address: str | None = None
) -> Membership:
    _check_may_manage(actor, member)
    with transaction.atomic():
        tenant, actor, member = _lock_actor_and_member(actor, member)
        if member.is_active:
            return member
        check_seat_available(tenant=tenant)
        member.status = Membership.Status.ACTIVE
        member.deactivated_at = None
        member.save(update_fields=["status", "deactivated_at"])
        audit_record(
            tenant=tenant,
            actor=actor.user,
            action="member.reactivated",
            target=member,
            target_repr=member.user.email,
            ip_address=ip_address,
        )
        seats_changed_on_commit(tenant)
    return member


def _check_may_transfer(actor: Membership, member: Membership) -> None:
    require_capability(actor, capabilities.TRANSFER_OWNERSHIP)
    if member.pk == actor.pk:
        raise ServiceError(_("You already own this workspace."), code="self")
    if member.tenant_id != actor.tenant_id or not member.is_active:
        raise ServiceError(_("Ownership can only go to an active member."), field="member")


def ownership_transfer(
    *, actor: Membership, member: Membership, ip_address: str | None = None
) -> Membership:
    """Make member the Owner; the acting Owner becomes an Admin."""
    _check_may_transfer(actor, member)
    with transaction.atomic():
        tenant = lock_tenant(actor.tenant)
        me = lock_membership(actor.pk)
        member = lock_membership(member.pk)
        # Again under the lock: the member may have been deactivated, or the actor demoted,
        # since the request read them.
        _check_may_transfer(me, member)
        old_role = member.role
        member.role = Role.OWNER
        member.save(update_fields=["role"])
        me.role = Role.ADMIN
        me.save(update_fields=["role"])
        audit_record(
            tenant=tenant,
            actor=me.user,
            action="ownership.transferred",
            target=member,
            target_repr=member.user.email,
            data={"from": old_role, "previous_owner": me.user.email},
            ip_address=ip_address,
        )
        for changed in (member, me):
            _notify_role(tenant=tenant, member=changed)
    return member


def member_record_sign_in(*, membership: Membership, ip_address: str | None) -> None:
    audit_record(
        tenant=membership.tenant,
        actor=membership.user,
        action="member.signed_in",
        target=membership,
        target_repr=membership.user.email,
        ip_address=ip_address,
    )


def members_export(*, actor: Membership, ip_address: str | None = None) -> str:
    """The workspace's members as CSV; the export itself is audited."""
    require_capability(actor, capabilities.EXPORT_DATA)
    members = list(member_list(tenant=actor.tenant))
    text = csv_text(
        ["name", "email", "role", "status", "joined", "last_seen"],
        (
            [
                m.user.full_name,
                m.user.email,
                m.role,
                m.status,
                m.created_at.isoformat(),
                m.last_seen_at.isoformat() if m.last_seen_at else "",
            ]
            for m in members
        ),
    )
    audit_record(
        tenant=actor.tenant,
        actor=actor.user,
        action="members.exported",
        data={"rows": len(members)},
        ip_address=ip_address,
    )
    return text
