"""The workspace logo: uploaded straight to S3 with a presigned PUT like a document, verified
(size, and an image type sniffed from the bytes) before the workspace points at it, shown in
the app header to every member of that workspace only."""

from __future__ import annotations

import uuid
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils.translation import gettext as _

from crm_modules.documents.services import UploadTicket, content_disposition
from crm_modules.documents.sniffing import SNIFF_BYTES, sniffed_type
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants import capabilities
from tenants.models import Membership
from tenants.permissions import allows, require
from tenants.services.workspace import workspace_logo_set

LOGO_TYPES = frozenset(s3.LOGO_EXTENSIONS)
LOGO_MAX_BYTES = 1024 * 1024
LOGO_URL_SECONDS = 5 * 60
_TICKET_SALT = "documents.logo"
_TICKET_MAX_AGE_SECONDS = 60 * 60


def _invalid_ticket() -> ServiceError:
    return ServiceError(
        _("This upload has expired or is not valid; upload the file again."), field="ticket"
    )


def workspace_logo_upload_start(*, actor: Membership, content_type: str, size: int) -> UploadTicket:
    """A presigned PUT for a new logo: a PNG, JPEG, GIF or WebP image of at most 1 MB."""
    require(actor, capabilities.MANAGE_SETTINGS)
    if content_type not in LOGO_TYPES:
        raise ServiceError(
            _("A logo must be a PNG, JPEG, GIF or WebP image."), field="content_type"
        )
    if size <= 0:
        raise ServiceError(_("The file is empty."), field="size")
    if size > LOGO_MAX_BYTES:
        raise ServiceError(_("A logo can be at most 1 MB."), field="size")
    schema = actor.tenant.schema_name
    logo_uuid = str(uuid.uuid4())
    key = s3.logo_key(schema_name=schema, logo_uuid=logo_uuid, content_type=content_type)
    presigned = s3.presign_put(
        schema_name=schema, key=key, content_type=content_type, size=size, expires_in=15 * 60
    )
    data = {
        "schema": schema,
        "user": actor.user_id,
        "uuid": logo_uuid,
        "content_type": content_type,
        "size": size,
    }
    return UploadTicket(
        url=presigned.url,
        headers=presigned.headers,
        ticket=signing.dumps(data, salt=_TICKET_SALT, compress=True),
    )


def workspace_logo_upload_complete(
    *, actor: Membership, ticket: str, ip_address: str | None = None
) -> str:
    """Verify the uploaded logo and make it the workspace's; the logo it replaces is deleted
    after commit. A file that is not what was declared is deleted and refused."""
    require(actor, capabilities.MANAGE_SETTINGS)
    try:
        data: dict[str, Any] = signing.loads(
            ticket, salt=_TICKET_SALT, max_age=_TICKET_MAX_AGE_SECONDS
        )
    except signing.BadSignature as exc:
        raise _invalid_ticket() from exc
    schema = actor.tenant.schema_name
    if data.get("schema") != schema or data.get("user") != actor.user_id:
        raise _invalid_ticket()
    key = s3.logo_key(schema_name=schema, logo_uuid=data["uuid"], content_type=data["content_type"])
    if actor.tenant.logo_key == key:
        raise ServiceError(_("This upload is already complete."), field="ticket")
    head = s3.object_head(schema_name=schema, key=key)
    if head is None:
        raise ServiceError(_("The file has not arrived; upload it again."), field="ticket")
    declared = data["content_type"]
    sniffed = sniffed_type(
        declared=declared,
        head=s3.object_read_start(schema_name=schema, key=key, length=SNIFF_BYTES),
    )
    if head["size"] != data["size"] or head["content_type"] != declared or sniffed != declared:
        s3.objects_delete(schema_name=schema, keys=[key])
        raise ServiceError(
            _("The file received is not the image declared; upload the real image."),
            field="ticket",
        )
    previous = workspace_logo_set(actor=actor, logo_key=key, ip_address=ip_address)
    _delete_later(schema, previous)
    return key


def workspace_logo_remove(*, actor: Membership, ip_address: str | None = None) -> None:
    previous = workspace_logo_set(actor=actor, logo_key="", ip_address=ip_address)
    _delete_later(schema=actor.tenant.schema_name, key=previous)


def _delete_later(schema: str, key: str) -> None:
    if key:
        transaction.on_commit(lambda: s3.objects_delete(schema_name=schema, keys=[key]))


def workspace_logo_url(*, actor: Membership) -> str | None:
    """A short-lived URL of the workspace's own logo (None without one)."""
    tenant = actor.tenant
    if not tenant.logo_key or not allows(actor, capabilities.USE_WORKSPACE, reading=True):
        return None
    extension = tenant.logo_key.rsplit(".", 1)[-1]
    content_type = {ext: kind for kind, ext in s3.LOGO_EXTENSIONS.items()}[extension]
    return s3.presign_get(
        schema_name=tenant.schema_name,
        key=tenant.logo_key,
        content_type=content_type,
        content_disposition=content_disposition(name="logo", inline=True),
        expires_in=LOGO_URL_SECONDS,
    )
