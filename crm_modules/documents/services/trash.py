"""The trash: delete (30 days, restorable by admins), restore, and the purge of what has been
there longer."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.documents.models import Document, DocumentVersion
from crm_modules.documents.module import (
    DOCUMENT_DELETED,
    DOCUMENT_RESTORED,
    MANAGE_TRASH,
    TIMELINE_DOCUMENT_DELETED,
    UPLOAD_DOCUMENTS,
)
from crm_modules.documents.services.events import _audit_and_publish, _timeline_write
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import require

TRASH_DAYS = 30


def document_delete(*, actor: Membership, document: Document) -> Document:
    """Move to the trash; purged after 30 days unless an admin restores it."""
    require(actor, UPLOAD_DOCUMENTS)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.deleted_at is not None:
            raise ServiceError(_("This document is already in the trash."), field="document")
        locked.deleted_at = timezone.now()
        locked.save(update_fields=["deleted_at"])
        _timeline_write(actor=actor, document=locked, entry=TIMELINE_DOCUMENT_DELETED)
        _audit_and_publish(
            actor=actor,
            document=locked,
            action=DOCUMENT_DELETED,
            event="document.deleted",
            data={},
        )
    return locked


def document_restore(*, actor: Membership, document: Document) -> Document:
    require(actor, MANAGE_TRASH)
    with transaction.atomic():
        locked = Document.objects.select_for_update().filter(pk=document.pk).first()
        require(actor, MANAGE_TRASH)
        if locked is None:
            raise ServiceError(_("This document has been deleted for good."), field="document")
        if locked.deleted_at is None:
            raise ServiceError(_("This document is not in the trash."), field="document")
        locked.deleted_at = None
        locked.save(update_fields=["deleted_at"])
        _audit_and_publish(
            actor=actor,
            document=locked,
            action=DOCUMENT_RESTORED,
            event="document.restored",
            data={},
        )
    return locked


PURGE_BATCH = 500


def documents_purge_expired(*, schema_name: str, now: datetime | None = None) -> int:
    """Delete the documents of the current workspace that have been in the trash for 30 days,
    in batches: the objects of every version first — those of uploads abandoned half-way
    included, since every number up to the counter was handed out — then the rows. The rows
    stay locked meanwhile, so a restore waits and then finds the document gone; a failure rolls
    the batch back, leaving rows to retry and never an orphaned object. Running it again finds
    nothing more to do. Returns how many documents went."""
    cutoff = (now or timezone.now()) - timedelta(days=TRASH_DAYS)
    purged = 0
    while True:
        with transaction.atomic():
            expired = list(
                Document.objects.select_for_update(skip_locked=True)
                .filter(deleted_at__lt=cutoff)
                .order_by("pk")
                .values_list("pk", "uuid", "version_counter")[:PURGE_BATCH]
            )
            if not expired:
                return purged
            ids = [pk for pk, _uuid, _counter in expired]
            keys = set(
                DocumentVersion.objects.filter(document_id__in=ids).values_list("key", flat=True)
            )
            for _pk, document_uuid, counter in expired:
                for n in range(1, counter + 1):
                    keys.add(
                        s3.document_key(
                            schema_name=schema_name, document_uuid=str(document_uuid), version=n
                        )
                    )
                    keys.add(
                        s3.thumbnail_key(
                            schema_name=schema_name, document_uuid=str(document_uuid), version=n
                        )
                    )
            s3.objects_delete(schema_name=schema_name, keys=sorted(keys))
            Document.objects.filter(pk__in=ids).delete()
        purged += len(ids)
