"""Short-lived presigned GETs issued after the permission check: the file, inline when the
bytes confirm a previewable type, and a PDF's first-page thumbnail."""

from __future__ import annotations

from django.utils.translation import gettext as _

from crm_modules.documents.models import Document, DocumentVersion
from crm_modules.documents.module import (
    VIEW_DOCUMENTS,
)
from crm_modules.documents.services.checks import INLINE_TYPES, content_disposition
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import require

DOWNLOAD_URL_SECONDS = 60


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
