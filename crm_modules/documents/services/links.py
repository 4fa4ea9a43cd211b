"""Links between documents and the records of attachable types: attach one more record; drop a
deleted record's links (the record-deleted hook) and trash what is linked to nothing."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.documents.api import all_attachables, attachable_record
from crm_modules.documents.models import Document, DocumentLink
from crm_modules.documents.module import (
    DOCUMENT_DELETED,
    TIMELINE_DOCUMENT_ADDED,
    UPLOAD_DOCUMENTS,
)
from crm_modules.documents.services.events import _audit_and_publish, _timeline_write
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import require


def document_link(
    *, actor: Membership, document: Document, record_type: str, record_id: int
) -> DocumentLink:
    """Attach an existing document to one more record."""
    require(actor, UPLOAD_DOCUMENTS)
    if attachable_record(actor=actor, key=record_type, record_id=record_id) is None:
        raise ServiceError(_("This record does not exist."), field="record_id")
    with transaction.atomic():
        link, created = DocumentLink.objects.get_or_create(
            document=document,
            record_type=record_type,
            record_id=record_id,
            defaults={"linked_by_id": actor.user_id},
        )
        if created:
            _timeline_write(
                actor=actor,
                document=document,
                entry=TIMELINE_DOCUMENT_ADDED,
                links=[(record_type, record_id)],
            )
    return link


def document_links_drop_for(*, actor: Membership, record: Any) -> None:
    """A record of an attachable type is being deleted: its links go, and a document then
    linked to nothing moves to the trash (restorable for 30 days, like any deleted document).
    Called through ``tenants.modules.record_deleted`` inside the deleting transaction; the
    deletion itself was checked by the record's module."""
    key = next((a.key for a in all_attachables() if isinstance(record, a.model)), None)
    if key is None:
        return
    links = DocumentLink.objects.filter(record_type=key, record_id=record.pk)
    linked = list(links.values_list("document_id", flat=True))
    if not linked:
        return
    links.delete()
    orphans = list(
        Document.objects.select_for_update()
        .filter(pk__in=linked, deleted_at__isnull=True)
        # Served by the unique index that leads with the document.
        .exclude(Exists(DocumentLink.objects.filter(document_id=OuterRef("pk"))))
        .order_by("pk")
    )
    now = timezone.now()
    for document in orphans:
        document.deleted_at = now
        document.save(update_fields=["deleted_at"])
        _audit_and_publish(
            actor=actor,
            document=document,
            action=DOCUMENT_DELETED,
            event="document.deleted",
            data={"unlinked": key},
        )
