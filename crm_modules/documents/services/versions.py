"""Versions: an older version made current again as a new version, the history kept whole."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from crm_modules.documents.models import Document, DocumentVersion
from crm_modules.documents.module import (
    DOCUMENT_VERSION_RESTORED,
    TIMELINE_DOCUMENT_VERSION,
    UPLOAD_DOCUMENTS,
)
from crm_modules.documents.services.events import _audit_and_publish, _timeline_write
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import require


def document_version_restore(
    *, actor: Membership, document: Document, number: int
) -> DocumentVersion:
    """Make an older version current again, as a new version: the history stays whole."""
    require(actor, UPLOAD_DOCUMENTS)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        require(actor, UPLOAD_DOCUMENTS)
        if locked.deleted_at is not None:
            raise ServiceError(_("This document is in the trash."), field="document")
        source = locked.versions.filter(number=number).first()
        if source is None:
            raise ServiceError(_("This version does not exist."), field="version")
        if source.number == locked.current_version:
            raise ServiceError(_("This version is already the current one."), field="version")
        locked.version_counter += 1
        restored = DocumentVersion.objects.create(
            document=locked,
            number=locked.version_counter,
            key=source.key,
            size=source.size,
            content_type=source.content_type,
            sniffed_type=source.sniffed_type,
            checksum=source.checksum,
            thumbnail_key=source.thumbnail_key,
            restored_from=source.number,
            uploaded_by_id=actor.user_id,
        )
        locked.current_version = restored.number
        locked.size = source.size
        locked.content_type = source.content_type
        locked.save(update_fields=["version_counter", "current_version", "size", "content_type"])
        _timeline_write(
            actor=actor, document=locked, entry=TIMELINE_DOCUMENT_VERSION, version=restored.number
        )
        _audit_and_publish(
            actor=actor,
            document=locked,
            action=DOCUMENT_VERSION_RESTORED,
            event="document.version_restored",
            data={"version": restored.number, "restored_from": source.number},
        )
    return restored
