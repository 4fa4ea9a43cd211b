"""What every documents write tells: the timeline of the linked records, the audit log and
the live topic."""

from __future__ import annotations

from typing import Any

from crm_modules.activities.api import EntryType, activity_log
from crm_modules.documents.api import get_attachable
from crm_modules.documents.models import Document
from crm_modules.documents.module import (
    DOCUMENTS_TOPIC,
)
from tenants.audit.services import audit_record
from tenants.live import publish
from tenants.models import Membership


def _timeline_write(
    *,
    actor: Membership,
    document: Document,
    entry: EntryType,
    version: int | None = None,
    links: list[tuple[str, int]] | None = None,
) -> None:
    """One timeline entry shown on every record the document is linked to (or on ``links``)."""
    if links is None:
        links = list(document.links.values_list("record_type", "record_id"))
    concerns = []
    for record_type, record_id in links:
        attachable = get_attachable(record_type)
        if attachable is not None:
            concerns.append((attachable.model._meta.label_lower, record_id))
    if not concerns:
        return
    activity_log(
        kind=entry.code,
        author=actor.user,
        concerns=concerns,
        subject=document.name[:200],
        data={"document": document.pk, "version": version or document.current_version},
    )


def _audit_and_publish(
    *, actor: Membership, document: Document, action: Any, event: str, data: dict[str, Any]
) -> None:
    audit_record(
        tenant=actor.tenant,
        actor=actor.user,
        action=action,
        target=document,
        target_repr=document.name,
        data=data,
    )
    publish(tenant=actor.tenant, topic=DOCUMENTS_TOPIC, event=event, payload={"id": document.pk})
