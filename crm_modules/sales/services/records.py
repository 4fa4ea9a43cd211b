"""What every kind of sales record does the same way."""

from __future__ import annotations

from typing import TypeVar

from django.db import transaction
from django.db.models import Model

from crm_modules.activities import api as timeline
from crm_modules.sales.module import DELETE_RECORDS
from tenants.audit.actions import AuditAction
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.modules import record_deleted
from tenants.permissions import require

R = TypeVar("R", bound=Model)


def record_delete(*, actor: Membership, record: R, action: AuditAction) -> R:
    """Delete a company, contact, lead or deal: checked, locked, checked again (a change of
    owner meanwhile may take it out of reach), audited, its timeline links removed, and what
    other modules hold of it dropped (``tenants.modules.record_deleted``: documents unlink it).
    Returns the deleted record as it was."""
    require(actor, DELETE_RECORDS, record)
    with transaction.atomic():
        locked = type(record)._default_manager.select_for_update().get(pk=record.pk)
        require(actor, DELETE_RECORDS, locked)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=action,
            target_repr=str(locked),
            data={"id": locked.pk},
        )
        timeline.timeline_delete_for(locked)
        record_deleted(actor=actor, record=locked)
        locked.delete()
    return locked
