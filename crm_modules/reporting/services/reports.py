"""Writes of saved reports: save, share with roles, pin to the dashboard, delete; each checked,
validated, audited, and announced to open dashboards after commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.reporting.card_cache import generation_bump
from crm_modules.reporting.definition import check_definition
from crm_modules.reporting.models import Report
from crm_modules.reporting.module import (
    BUILD_REPORTS,
    REPORT_DELETED,
    REPORT_PINNED,
    REPORT_SAVED,
    REPORT_SHARED,
    SHARE_REPORTS,
)
from crm_platform.errors import ServiceError
from tenants import live_sender
from tenants.audit.services import audit_record
from tenants.models import Membership, Tenant
from tenants.permissions import allows, require
from tenants.roles import Role


def dashboard_group(*, schema_name: str) -> str:
    """The channel-layer group of a workspace's sales dashboard (schema-prefixed, D6)."""
    return f"{schema_name}.reporting.dashboard.sales"


def dashboard_announce(*, tenant: Tenant, event: str, payload: dict[str, Any]) -> None:
    """Tell the open dashboards of a workspace, after commit."""
    group = dashboard_group(schema_name=tenant.schema_name)
    message = {"type": "notify", "event": event, "payload": payload}

    def send() -> None:
        generation_bump(tenant=tenant)
        live_sender.send(group, message)

    transaction.on_commit(send)


def check_name(name: Any) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise ServiceError(_("Give the report a name."), field="name", code="required")
    if len(text) > 200:
        raise ServiceError(_("The name can be at most 200 characters."), field="name")
    return text


def report_save(*, actor: Membership, name: Any, definition: Any) -> Report:
    require(actor, BUILD_REPORTS)
    clean_name = check_name(name)
    checked = check_definition(definition)
    with transaction.atomic():
        report = Report.objects.create(
            name=clean_name, definition=dict(checked.data), owner=actor.user
        )
        audit_record(tenant=actor.tenant, actor=actor.user, action=REPORT_SAVED, target=report)
    return report


def check_roles(roles: Iterable[Any]) -> list[str]:
    clean = sorted({str(role) for role in roles})
    unknown = [role for role in clean if role not in Role.values]
    if unknown:
        raise ServiceError(
            _("Unknown role: %(role)s.") % {"role": unknown[0][:40]}, field="shared_with"
        )
    return clean


def _may_manage(actor: Membership, report: Report) -> bool:
    return allows(actor, SHARE_REPORTS) or (
        allows(actor, BUILD_REPORTS) and report.owner_id == actor.user_id
    )


def report_share(*, actor: Membership, report: Report, roles: Iterable[Any]) -> Report:
    require(actor, SHARE_REPORTS)
    clean = check_roles(roles)
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=report.pk)
        require(actor, SHARE_REPORTS)
        locked.shared_with = clean
        locked.updated_at = timezone.now()
        locked.save(update_fields=["shared_with", "updated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=REPORT_SHARED,
            target=locked,
            data={"roles": clean},
        )
    return locked


def report_pin(*, actor: Membership, report: Report, pinned: bool) -> Report:
    require(actor, SHARE_REPORTS)
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=report.pk)
        require(actor, SHARE_REPORTS)
        if locked.pinned == pinned:
            return locked
        locked.pinned = pinned
        locked.updated_at = timezone.now()
        locked.save(update_fields=["pinned", "updated_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=REPORT_PINNED,
            target=locked,
            data={"pinned": pinned},
        )
        dashboard_announce(
            tenant=actor.tenant, event="dashboard.layout", payload={"report": locked.pk}
        )
    return locked


def report_delete(*, actor: Membership, report: Report) -> None:
    if not _may_manage(actor, report):
        require(actor, SHARE_REPORTS)
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=report.pk)
        if not _may_manage(actor, locked):
            require(actor, SHARE_REPORTS)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=REPORT_DELETED,
            target_repr=str(locked),
            data={"id": locked.pk},
        )
        was_pinned = locked.pinned
        locked.delete()
        if was_pinned:
            dashboard_announce(
                tenant=actor.tenant, event="dashboard.layout", payload={"report": report.pk}
            )
