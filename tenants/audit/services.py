"""Any module records audit events here; they are written into the workspace's own schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django_tenants.utils import schema_context

from tenants.audit.actions import AuditAction, get_action
from tenants.audit.models import AuditEvent
from tenants.commit_batch import on_commit_once
from tenants.models import Tenant, User

# Called after commit with (workspace, action code), once per commit that audited the action
# (ADR 0067): what a module keeps derived from the workspace (reporting's card cache) learns
# of changes that publish no live event — settings, roles, pipelines, custom fields.
AuditListener = Callable[[Tenant, str], None]
_LISTENERS: list[AuditListener] = []


def register_audit_listener(listener: AuditListener) -> None:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def _tell_listeners(tenant: Tenant, code: str) -> None:
    if not _LISTENERS:
        return

    def tell() -> None:
        for listener in list(_LISTENERS):
            listener(tenant, code)

    on_commit_once(("audit", tenant.schema_name, code), tell)


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
        event = AuditEvent.objects.create(
            actor_id=actor.pk if actor else None,
            actor_email=actor.email if actor else "",
            action=code,
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            target_repr=(target_repr or (str(target) if target is not None else ""))[:255],
            data=data or {},
            ip_address=ip_address,
        )
    _tell_listeners(tenant, code)
    return event
