"""Every write of the documents module.

An upload never passes through the app server: ``document_upload_start`` checks the member,
the record, the size and the quota, and answers a presigned PUT plus a signed ticket naming
what was allowed; the browser sends the bytes to S3; ``document_upload_complete`` verifies the
object (size, type) and only then creates the rows. An abandoned upload leaves no row.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities.api import EntryType, activity_log
from crm_modules.documents.api import all_attachables, attachable_record, get_attachable
from crm_modules.documents.models import Document, DocumentLink, DocumentVersion
from crm_modules.documents.module import (
    DOCUMENT_DELETED,
    DOCUMENT_RESTORED,
    DOCUMENT_UPLOADED,
    DOCUMENT_VERSION_ADDED,
    DOCUMENT_VERSION_RESTORED,
    DOCUMENTS_TOPIC,
    MANAGE_TRASH,
    TIMELINE_DOCUMENT_ADDED,
    TIMELINE_DOCUMENT_DELETED,
    TIMELINE_DOCUMENT_VERSION,
    UPLOAD_DOCUMENTS,
    VIEW_DOCUMENTS,
)
from crm_modules.documents.quota import max_file_bytes, storage_quota_bytes, storage_used_bytes
from crm_modules.documents.sniffing import SNIFF_BYTES, sniffed_type
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.live import publish
from tenants.models import Membership, Tenant
from tenants.permissions import require

UPLOAD_URL_SECONDS = 15 * 60
TICKET_MAX_AGE_SECONDS = 60 * 60
DOWNLOAD_URL_SECONDS = 60
TRASH_DAYS = 30
NAME_MAX = 255
_TICKET_SALT = "documents.upload"
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
# Served inline (previewed); everything else, active types above all, downloads.
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True)
class UploadTicket:
    """What the browser needs to send the bytes: one presigned PUT (``url``), or for a large
    file the presigned PUT of each part still to send (``parts``: number, size, url)."""

    url: str
    headers: dict[str, str]
    ticket: str
    parts: list[dict[str, Any]] = field(default_factory=list)
    part_size: int = 0
    # On resuming: the numbers of the parts S3 already holds, each of its planned size.
    received: list[int] = field(default_factory=list)


# --- validation ------------------------------------------------------------------------------


def check_name(name: str) -> str:
    """A display name: no control or bidirectional-override characters, no path separators,
    at most 255 characters (the extension kept). Never part of an object key."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch
        for ch in unicodedata.normalize("NFC", name)
    )
    cleaned = cleaned.replace("/", "_").replace("\\", "_").strip().strip(".").strip()
    if not cleaned:
        raise ServiceError(_("Give the file a name."), field="name")
    if len(cleaned) > NAME_MAX:
        stem, dot, extension = cleaned.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            cleaned = f"{stem[: NAME_MAX - len(extension) - 1]}.{extension}"
        else:
            cleaned = cleaned[:NAME_MAX]
    return cleaned


def check_content_type(content_type: str) -> str:
    content_type = (content_type or "application/octet-stream").strip().lower()
    if len(content_type) > 100 or not _CONTENT_TYPE.match(content_type):
        raise ServiceError(_("This file type is not recognised."), field="content_type")
    return content_type


def check_size(*, tenant: Tenant, size: int) -> int:
    if size <= 0:
        raise ServiceError(_("The file is empty."), field="size")
    limit = max_file_bytes(tenant)
    if size > limit:
        raise ServiceError(
            _("The file is %(size)s; files may be at most %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(limit)},
            field="size",
        )
    quota = storage_quota_bytes(tenant)
    used = storage_used_bytes() if quota is not None else 0
    if quota is not None and used + size > quota:
        raise ServiceError(
            _(
                "The file is %(size)s, but only %(free)s of the workspace's %(quota)s storage "
                "is left. Delete documents from the trash or ask the owner for a larger plan."
            )
            % {
                "size": filesizeformat(size),
                "free": filesizeformat(max(quota - used, 0)),
                "quota": filesizeformat(quota),
            },
            field="size",
        )
    return size


def content_disposition(*, name: str, inline: bool) -> str:
    """RFC 6266 with the RFC 5987 ``filename*`` for any script, and a plain ASCII fallback."""
    fallback = "".join(
        ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_"
        for ch in unicodedata.normalize("NFKD", name)
        if not unicodedata.combining(ch)
    )
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(name, safe='')}"


# --- uploads ---------------------------------------------------------------------------------


def document_upload_start(
    *,
    actor: Membership,
    name: str,
    content_type: str,
    size: int,
    record_type: str = "",
    record_id: int | None = None,
    document: Document | None = None,
) -> UploadTicket:
    """A presigned PUT for a new document (attached to a record when one is given) or for a new
    version of ``document``. Refused before any byte is sent when the quota would be
    exceeded."""
    require(actor, UPLOAD_DOCUMENTS)
    tenant = actor.tenant
    name = check_name(name)
    content_type = check_content_type(content_type)
    if (record_type or record_id is not None) and (
        record_id is None
        or attachable_record(actor=actor, key=record_type, record_id=record_id) is None
    ):
        raise ServiceError(_("This record does not exist."), field="record_id")
    check_size(tenant=tenant, size=size)
    if document is None:
        document_uuid, number, document_id = str(uuid.uuid4()), 1, None
    else:
        with transaction.atomic():
            locked = Document.objects.select_for_update().get(pk=document.pk)
            if locked.deleted_at is not None:
                raise ServiceError(_("This document is in the trash."), field="document")
            # Numbers are handed out here so that two uploads at once never share a key.
            locked.version_counter += 1
            locked.save(update_fields=["version_counter"])
        document_uuid, number, document_id = str(locked.uuid), locked.version_counter, locked.pk
    key = s3.document_key(
        schema_name=tenant.schema_name, document_uuid=document_uuid, version=number
    )
    data: dict[str, Any] = {
        "schema": tenant.schema_name,
        "user": actor.user_id,
        "uuid": document_uuid,
        "number": number,
        "document": document_id,
        "name": name,
        "content_type": content_type,
        "size": size,
        "record_type": record_type,
        "record_id": record_id,
    }
    if size > int(settings.DOCUMENTS_MULTIPART_THRESHOLD_BYTES):
        part_size = int(settings.DOCUMENTS_MULTIPART_PART_BYTES)
        data["part_size"] = part_size
        data["upload_id"] = s3.multipart_create(
            schema_name=tenant.schema_name, key=key, content_type=content_type
        )
        return UploadTicket(
            url="",
            headers={},
            ticket=_sign(data),
            parts=_presigned_parts(data=data, key=key, skip=set()),
            part_size=part_size,
        )
    url = s3.presign_put(
        schema_name=tenant.schema_name,
        key=key,
        content_type=content_type,
        size=size,
        expires_in=UPLOAD_URL_SECONDS,
    )
    return UploadTicket(url=url, headers={"Content-Type": content_type}, ticket=_sign(data))


def _sign(data: dict[str, Any]) -> str:
    return signing.dumps(data, salt=_TICKET_SALT, compress=True)


def _part_sizes(data: dict[str, Any]) -> list[int]:
    """The size of each part, in order: all of ``part_size`` but the last."""
    size, part_size = int(data["size"]), int(data["part_size"])
    return [min(part_size, size - start) for start in range(0, size, part_size)]


def _presigned_parts(*, data: dict[str, Any], key: str, skip: set[int]) -> list[dict[str, Any]]:
    return [
        {
            "number": number,
            "size": part,
            "url": s3.presign_upload_part(
                schema_name=data["schema"],
                key=key,
                upload_id=data["upload_id"],
                part_number=number,
                size=part,
                expires_in=UPLOAD_URL_SECONDS,
            ),
        }
        for number, part in enumerate(_part_sizes(data), start=1)
        if number not in skip
    ]


def _multipart(*, actor: Membership, ticket: str) -> tuple[dict[str, Any], str]:
    data = _read_ticket(actor=actor, ticket=ticket)
    if not data.get("upload_id"):
        raise ServiceError(_("This upload is not sent in parts."), field="ticket")
    key = s3.document_key(
        schema_name=data["schema"], document_uuid=data["uuid"], version=data["number"]
    )
    return data, key


def document_upload_resume(*, actor: Membership, ticket: str) -> UploadTicket:
    """After a dropped connection: which parts S3 already holds, and fresh presigned PUTs for
    the others (those that arrived with the wrong size are sent again)."""
    require(actor, UPLOAD_DOCUMENTS)
    data, key = _multipart(actor=actor, ticket=ticket)
    held = s3.multipart_parts(schema_name=data["schema"], key=key, upload_id=data["upload_id"])
    if held is None:
        raise ServiceError(
            _("This upload was cancelled or is already complete; upload the file again."),
            field="ticket",
        )
    sizes = _part_sizes(data)
    arrived = {
        p["number"]
        for p in held
        if 1 <= p["number"] <= len(sizes) and p["size"] == sizes[p["number"] - 1]
    }
    return UploadTicket(
        url="",
        headers={},
        ticket=ticket,
        parts=_presigned_parts(data=data, key=key, skip=arrived),
        part_size=int(data["part_size"]),
        received=sorted(arrived),
    )


def document_upload_abort(*, actor: Membership, ticket: str) -> None:
    """Give up an upload in parts: S3 drops the parts it holds. Nothing was recorded."""
    require(actor, UPLOAD_DOCUMENTS)
    data, key = _multipart(actor=actor, ticket=ticket)
    s3.multipart_abort(schema_name=data["schema"], key=key, upload_id=data["upload_id"])


def _join_parts(*, data: dict[str, Any], key: str) -> None:
    """Complete an upload in parts from what S3 holds (never from what the browser says): every
    part there, each of its planned size."""
    held = s3.multipart_parts(schema_name=data["schema"], key=key, upload_id=data["upload_id"])
    if held is None:
        # Completed already (then its object is there and the checks that follow apply) or
        # cancelled (then it is not, and "has not arrived" follows).
        return
    sizes = _part_sizes(data)
    by_number = {p["number"]: p for p in held}
    missing = [n for n in range(1, len(sizes) + 1) if n not in by_number]
    if missing:
        raise ServiceError(
            _("%(missing)s of %(total)s parts have not arrived; resume the upload.")
            % {"missing": len(missing), "total": len(sizes)},
            field="ticket",
        )
    if len(by_number) != len(sizes) or any(
        by_number[n]["size"] != size for n, size in enumerate(sizes, start=1)
    ):
        s3.multipart_abort(schema_name=data["schema"], key=key, upload_id=data["upload_id"])
        raise ServiceError(
            _("The file received differs from the file declared; upload it again."),
            field="ticket",
        )
    parts = [by_number[n] for n in range(1, len(sizes) + 1)]
    s3.multipart_complete(
        schema_name=data["schema"], key=key, upload_id=data["upload_id"], parts=parts
    )


def _read_ticket(*, actor: Membership, ticket: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = signing.loads(
            ticket, salt=_TICKET_SALT, max_age=TICKET_MAX_AGE_SECONDS
        )
    except signing.BadSignature as exc:
        raise ServiceError(
            _("This upload has expired or is not valid; upload the file again."), field="ticket"
        ) from exc
    if data.get("schema") != actor.tenant.schema_name or data.get("user") != actor.user_id:
        raise ServiceError(
            _("This upload has expired or is not valid; upload the file again."), field="ticket"
        )
    return data


def document_upload_complete(*, actor: Membership, ticket: str) -> Document:
    """Verify the object S3 received against the ticket, then record the document (or its new
    version). A mismatching object is deleted; completing twice is refused."""
    require(actor, UPLOAD_DOCUMENTS)
    data = _read_ticket(actor=actor, ticket=ticket)
    schema = actor.tenant.schema_name
    key = s3.document_key(schema_name=schema, document_uuid=data["uuid"], version=data["number"])
    if DocumentVersion.objects.filter(key=key).exists():
        raise ServiceError(_("This upload is already complete."), field="ticket")
    if data.get("upload_id"):
        _join_parts(data=data, key=key)
    head = s3.object_head(schema_name=schema, key=key)
    if head is None:
        raise ServiceError(_("The file has not arrived; upload it again."), field="ticket")
    if head["size"] != data["size"] or head["content_type"] != data["content_type"]:
        s3.objects_delete(schema_name=schema, keys=[key])
        raise ServiceError(
            _("The file received differs from the file declared; upload it again."),
            field="ticket",
        )
    sniffed = sniffed_type(
        declared=data["content_type"],
        head=s3.object_read_start(schema_name=schema, key=key, length=SNIFF_BYTES),
    )
    if data["content_type"] in INLINE_TYPES and sniffed != data["content_type"]:
        # A previewable type must be what the bytes say: HTML declared as a PDF is refused.
        s3.objects_delete(schema_name=schema, keys=[key])
        raise ServiceError(
            _(
                "The file's content is not of the type its name says (%(declared)s); "
                "it looks like %(sniffed)s. Upload the real file."
            )
            % {"declared": data["content_type"], "sniffed": sniffed or _("something else")},
            field="content_type",
        )
    try:
        with transaction.atomic():
            document = _record_version(
                actor=actor, data=data, key=key, etag=head["etag"], sniffed=sniffed
            )
    except IntegrityError as exc:
        raise ServiceError(_("This upload is already complete."), field="ticket") from exc
    return document


def _record_version(
    *, actor: Membership, data: dict[str, Any], key: str, etag: str, sniffed: str
) -> Document:
    require(actor, UPLOAD_DOCUMENTS)
    now = timezone.now()
    if data["document"] is None:
        document = Document.objects.create(
            uuid=data["uuid"],
            name=data["name"],
            content_type=data["content_type"],
            size=data["size"],
            current_version=1,
            version_counter=1,
            uploaded_by_id=actor.user_id,
            created_at=now,
        )
        action, event = DOCUMENT_UPLOADED, "document.uploaded"
        entry = TIMELINE_DOCUMENT_ADDED
    else:
        existing = Document.objects.select_for_update().filter(pk=data["document"]).first()
        if existing is None or existing.deleted_at is not None:
            raise ServiceError(_("This document is in the trash."), field="document")
        document = existing
        document.name = data["name"]
        document.content_type = data["content_type"]
        document.size = data["size"]
        document.current_version = data["number"]
        document.save(update_fields=["name", "content_type", "size", "current_version"])
        action, event = DOCUMENT_VERSION_ADDED, "document.version_added"
        entry = TIMELINE_DOCUMENT_VERSION
    version = DocumentVersion.objects.create(
        document=document,
        number=data["number"],
        key=key,
        size=data["size"],
        content_type=data["content_type"],
        sniffed_type=sniffed,
        checksum=etag,
        uploaded_by_id=actor.user_id,
        created_at=now,
    )
    if data["record_type"] and data["record_id"] is not None:
        # The record may have gone out of reach while the bytes travelled.
        if (
            attachable_record(actor=actor, key=data["record_type"], record_id=data["record_id"])
            is None
        ):
            raise ServiceError(_("This record does not exist."), field="record_id")
        DocumentLink.objects.get_or_create(
            document=document,
            record_type=data["record_type"],
            record_id=data["record_id"],
            defaults={"linked_by_id": actor.user_id},
        )
    if sniffed == "application/pdf":
        transaction.on_commit(lambda: _thumbnail_later(version.pk))
    _timeline_write(actor=actor, document=document, entry=entry, version=data["number"])
    _audit_and_publish(
        actor=actor, document=document, action=action, event=event, data={"version": data["number"]}
    )
    return document


def _thumbnail_later(version_id: int) -> None:
    from crm_modules.documents.tasks import render_pdf_thumbnail

    render_pdf_thumbnail.delay(version_id=version_id)


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


# --- links, downloads, versions, trash -------------------------------------------------------


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


def document_download_url(
    *, actor: Membership, document: Document, version: DocumentVersion | None = None
) -> str:
    """A presigned GET valid for a minute: PDFs and images inline (preview), anything else —
    HTML, SVG, XML, executables — as an attachment of a neutral type."""
    require(actor, VIEW_DOCUMENTS)
    if version is None:
        version = document.versions.get(number=document.current_version)
    elif version.document_id != document.pk:
        raise ServiceError(_("This version does not exist."), field="version")
    inline = previewable(version)
    return s3.presign_get(
        schema_name=actor.tenant.schema_name,
        key=version.key,
        content_type=version.content_type if inline else "application/octet-stream",
        content_disposition=content_disposition(name=document.name, inline=inline),
        expires_in=DOWNLOAD_URL_SECONDS,
    )


def document_thumbnail_url(*, actor: Membership, document: Document) -> str | None:
    """A presigned GET of the current version's first-page thumbnail, or None while there is
    none (not a PDF, not rendered yet, or not renderable)."""
    require(actor, VIEW_DOCUMENTS)
    version = document.versions.get(number=document.current_version)
    if not version.thumbnail_key:
        return None
    return s3.presign_get(
        schema_name=actor.tenant.schema_name,
        key=version.thumbnail_key,
        content_type="image/png",
        content_disposition=content_disposition(name=f"{document.name}.png", inline=True),
        expires_in=DOWNLOAD_URL_SECONDS,
    )


def previewable(version: DocumentVersion) -> bool:
    """Shown inline only when the declared type is a safe one and the bytes agree with it."""
    return version.content_type in INLINE_TYPES and version.sniffed_type == version.content_type


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
