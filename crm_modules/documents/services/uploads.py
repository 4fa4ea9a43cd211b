"""Uploads: a presigned PUT (or one per part) and a signed ticket, the bytes straight from the
browser to S3, then the verification that records the document or its new version. Resuming
and cancelling an upload in parts."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.documents.api import attachable_record, get_attachable
from crm_modules.documents.models import Document, DocumentLink, DocumentVersion
from crm_modules.documents.module import (
    DOCUMENT_UPLOADED,
    DOCUMENT_VERSION_ADDED,
    TIMELINE_DOCUMENT_ADDED,
    TIMELINE_DOCUMENT_VERSION,
    UPLOAD_DOCUMENTS,
)
from crm_modules.documents.quota import storage_lock
from crm_modules.documents.services.checks import (
    INLINE_TYPES,
    UploadTicket,
    check_content_matches_name,
    check_content_type,
    check_name,
    check_size,
    quota_refusal,
)
from crm_modules.documents.services.events import _audit_and_publish, _timeline_write
from crm_modules.documents.sniffing import SNIFF_BYTES, sniffed_type
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants.audit.services import audit_record
from tenants.models import Membership, Tenant
from tenants.permissions import require

# The default of settings.DOCUMENTS_UPLOAD_URL_SECONDS, how long a presigned PUT is valid.
UPLOAD_URL_SECONDS = 15 * 60
TICKET_MAX_AGE_SECONDS = 60 * 60
_TICKET_SALT = "documents.upload"

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
    presigned = s3.presign_put(
        schema_name=tenant.schema_name,
        key=key,
        content_type=content_type,
        size=size,
        expires_in=int(settings.DOCUMENTS_UPLOAD_URL_SECONDS),
    )
    return UploadTicket(url=presigned.url, headers=presigned.headers, ticket=_sign(data))


def _sign(data: dict[str, Any]) -> str:
    return signing.dumps(data, salt=_TICKET_SALT, compress=True)


def _part_sizes(data: dict[str, Any]) -> list[int]:
    """The size of each part, in order: all of ``part_size`` but the last."""
    size, part_size = int(data["size"]), int(data["part_size"])
    return [min(part_size, size - start) for start in range(0, size, part_size)]


def _presigned_parts(*, data: dict[str, Any], key: str, skip: set[int]) -> list[dict[str, Any]]:
    parts = []
    for number, size in enumerate(_part_sizes(data), start=1):
        if number in skip:
            continue
        presigned = s3.presign_upload_part(
            schema_name=data["schema"],
            key=key,
            upload_id=data["upload_id"],
            part_number=number,
            size=size,
            expires_in=int(settings.DOCUMENTS_UPLOAD_URL_SECONDS),
        )
        parts.append(
            {"number": number, "size": size, "url": presigned.url, "headers": presigned.headers}
        )
    return parts


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
        check_content_matches_name(name=data["name"], sniffed=sniffed)
    except ServiceError:
        # Nothing of a refused upload stays behind.
        s3.objects_delete(schema_name=schema, keys=[key])
        raise
    refusal: ServiceError | None = None
    try:
        with transaction.atomic():
            # Checked again with the size S3 holds, under the workspace's storage lock: uploads
            # started together each passed the check at their start.
            storage_lock()
            refusal = quota_refusal(tenant=actor.tenant, size=head["size"])
            if refusal is None:
                document = _record_version(
                    actor=actor, data=data, key=key, etag=head["etag"], sniffed=sniffed
                )
    except IntegrityError as exc:
        raise ServiceError(_("This upload is already complete."), field="ticket") from exc
    if refusal is not None:
        s3.objects_delete(schema_name=schema, keys=[key])
        raise refusal
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


def document_store(
    *,
    tenant: Tenant,
    name: str,
    content_type: str,
    data: bytes,
    record_type: str,
    record_id: int,
) -> Document:
    """Store bytes the server received itself (an email attachment) as a new document attached
    to a record, with no member acting: the size, the quota and the record are checked as for
    an upload, the type is sniffed from the bytes, nothing is put on the timeline (the caller
    writes its own entry). Call it inside the caller's transaction; an object written before
    a rollback is an orphan the bucket's lifecycle rule removes."""
    name = check_name(name)
    content_type = check_content_type(content_type)
    # Held until the caller's transaction ends, as an upload's completion holds it.
    storage_lock()
    check_size(tenant=tenant, size=len(data))
    attachable = get_attachable(record_type)
    if attachable is None or not attachable.model._default_manager.filter(pk=record_id).exists():
        raise ServiceError(_("This record does not exist."), field="record_id")
    sniffed = sniffed_type(declared=content_type, head=data[:SNIFF_BYTES])
    if content_type in INLINE_TYPES and sniffed != content_type:
        # Served as what the bytes are, never previewed as what the sender claimed.
        content_type = "application/octet-stream"
    document_uuid = str(uuid.uuid4())
    key = s3.document_key(schema_name=tenant.schema_name, document_uuid=document_uuid, version=1)
    etag = s3.object_put(
        schema_name=tenant.schema_name, key=key, data=data, content_type=content_type
    )
    now = timezone.now()
    document = Document.objects.create(
        uuid=document_uuid,
        name=name,
        content_type=content_type,
        size=len(data),
        current_version=1,
        version_counter=1,
        uploaded_by_id=None,
        created_at=now,
    )
    DocumentVersion.objects.create(
        document=document,
        number=1,
        key=key,
        size=len(data),
        content_type=content_type,
        sniffed_type=sniffed,
        checksum=etag,
        uploaded_by_id=None,
        created_at=now,
    )
    DocumentLink.objects.create(
        document=document, record_type=record_type, record_id=record_id, linked_by_id=None
    )
    if sniffed == "application/pdf":
        version_id = document.versions.get().pk
        transaction.on_commit(lambda: _thumbnail_later(version_id))
    audit_record(
        tenant=tenant,
        actor=None,
        action=DOCUMENT_UPLOADED,
        target=document,
        target_repr=document.name,
        data={"version": 1, "record_type": record_type},
    )
    return document


def _thumbnail_later(version_id: int) -> None:
    from crm_modules.documents.tasks import render_pdf_thumbnail

    render_pdf_thumbnail.delay(version_id=version_id)
