"""Any module records audit events here; they are written into the workspace's own schema."""

from __future__ import annotations

from typing import Any

from django.db import models
from django_tenants.utils import schema_context

from tenants.audit.actions import AuditAction, get_action
from tenants.audit.models import AuditEvent
from tenants.models import Tenant, User


def audit_record(
    *,
    tenant: Tenant,
    actor: User | None,
    action: AuditAction | str,
    target: models.Model | None = None,
    target_repr: str = "",
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    code = get_action(str(action)).code  # an unregistered action is a programming error
    with schema_context(tenant.schema_name):
        return AuditEvent.objects.create(
            actor_id=actor.pk if actor else None,
            actor_email=actor.email if actor else "",
            action=code,
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            target_repr=(target_repr or (str(target) if target is not None else ""))[:255],
            data=data or {},
            ip_address=ip_address,
        )
