"""Links between documents and the records of attachable types: link an existing document to one
more record, or take it off one; drop a deleted record's links (the record-deleted hook) and
trash what is linked to nothing."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.documents.api import all_attachables, attachable_record, get_attachable
from crm_modules.documents.models import Document, DocumentLink
from crm_modules.documents.module import (
    DOCUMENT_DELETED,
    DOCUMENT_LINKED,
    DOCUMENT_UNLINKED,
    TIMELINE_DOCUMENT_ADDED,
    UPLOAD_DOCUMENTS,
)
from crm_modules.documents.selectors import visible_documents
from crm_modules.documents.services.events import _audit_and_publish, _timeline_write
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import require


def _check_link(
    *, actor: Membership, document: Document, record_type: str, record_id: int
) -> Document:
    """Check what a link or an unlink asks, then lock the document and check again: the member
    may upload documents, sees the document (ADR 0072) and the record, and may edit the record.
    Answers the locked document."""
    require(actor, UPLOAD_DOCUMENTS)
    attachable = get_attachable(record_type)
    if attachable is None:
        raise ServiceError(
            _("Documents cannot be linked to this type of record."), field="record_type"
        )
    record = attachable_record(actor=actor, key=record_type, record_id=record_id)
    if record is None:
        raise ServiceError(_("This record does not exist."), field="record_id")
    require(actor, attachable.capability_to_link, record)
    locked = (
        visible_documents(actor).select_for_update().filter(pk=document.pk, deleted_at__isnull=True)
    ).first()
    if locked is None:
        raise ServiceError(_("This document does not exist."), field="document")
    return locked


def document_link(
    *, actor: Membership, document: Document, record_type: str, record_id: int
) -> tuple[DocumentLink, bool]:
    """Link a document the member sees to one more record they may edit; linking it again
    changes nothing. Answers the link and whether it is new."""
    with transaction.atomic():
        document = _check_link(
            actor=actor, document=document, record_type=record_type, record_id=record_id
        )
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
            _audit_and_publish(
                actor=actor,
                document=document,
                action=DOCUMENT_LINKED,
                event="document.linked",
                data={"record_type": record_type, "record_id": record_id},
            )
    return link, created


def document_unlink(
    *, actor: Membership, document: Document, record_type: str, record_id: int
) -> None:
    """Take a document off one record the member may edit. Its last record is refused: a
    document linked to no record is seen by every member (ADR 0072), so unlinking it there
    would show it to members who could not see it; delete it instead."""
    with transaction.atomic():
        document = _check_link(
            actor=actor, document=document, record_type=record_type, record_id=record_id
        )
        link = DocumentLink.objects.filter(
            document=document, record_type=record_type, record_id=record_id
        ).first()
        if link is None:
            raise ServiceError(_("This document is not linked to this record."), field="record_id")
        if not DocumentLink.objects.filter(document=document).exclude(pk=link.pk).exists():
            raise ServiceError(
                _(
                    "This is the only record the document is linked to; delete the document "
                    "instead."
                ),
                field="record_id",
            )
        link.delete()
        _audit_and_publish(
            actor=actor,
            document=document,
            action=DOCUMENT_UNLINKED,
            event="document.unlinked",
            data={"record_type": record_type, "record_id": record_id},
        )


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
