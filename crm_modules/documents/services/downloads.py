"""Downloads, each after the permission check: a short-lived presigned GET for inert types
(inline when the bytes confirm a previewable type, else an attachment), the bytes streamed by
the server itself for active types — HTML, SVG, XML, scripts, executables, anything of a type
not known to be inert — so that the response carrying them says ``nosniff`` (S3 cannot add that
header; ADR 0077); and a PDF's first-page thumbnail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404
from django.utils.translation import gettext as _

from crm_modules.documents.models import Document, DocumentVersion
from crm_modules.documents.module import VIEW_DOCUMENTS
from crm_modules.documents.services.checks import (
    INERT_TYPES,
    INLINE_TYPES,
    content_disposition,
    name_claims_active,
)
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants.models import Membership
from tenants.permissions import require

# The default of settings.DOCUMENTS_DOWNLOAD_URL_SECONDS, how long a presigned GET is valid.
DOWNLOAD_URL_SECONDS = 60


def download_url_seconds() -> int:
    return int(settings.DOCUMENTS_DOWNLOAD_URL_SECONDS)


@dataclass(frozen=True)
class Download:
    """How a version's bytes reach the browser: ``url``, a presigned GET to redirect to; or,
    for an active type, ``chunks`` the server sends itself as an attachment."""

    content_disposition: str
    url: str = ""
    chunks: Iterator[bytes] | None = None
    size: int = 0

    @property
    def streamed(self) -> bool:
        return self.chunks is not None


def document_download(
    *,
    actor: Membership,
    document: Document,
    version: DocumentVersion | None = None,
    streamed: bool = False,
) -> Download:
    """The current version (or ``version``) of a document the member may see: an active type
    (or any type, with ``streamed``) streamed from S3 by the server as an attachment, anything
    else as a presigned GET valid for a minute."""
    require(actor, VIEW_DOCUMENTS)
    version = _version(document=document, version=version)
    if streamed or active(version, name=document.name):
        stream = s3.object_stream(schema_name=actor.tenant.schema_name, key=version.key)
        if stream is None:
            # The rows outlived the bytes (a workspace restored from an archive whose files
            # were purged): nothing to send.
            raise Http404(_("This document's file is missing from storage."))
        return Download(
            content_disposition=content_disposition(name=document.name, inline=False),
            chunks=stream.chunks,
            size=stream.size,
        )
    return Download(
        content_disposition=content_disposition(name=document.name, inline=previewable(version)),
        url=document_download_url(actor=actor, document=document, version=version),
    )


def _version(*, document: Document, version: DocumentVersion | None) -> DocumentVersion:
    if version is None:
        return document.versions.get(number=document.current_version)
    if version.document_id != document.pk:
        raise ServiceError(_("This version does not exist."), field="version")
    return version


def document_download_url(
    *, actor: Membership, document: Document, version: DocumentVersion | None = None
) -> str:
    """A presigned GET valid for a minute: PDFs and images inline (preview), anything else as
    an attachment of a neutral type. Active types are not served this way (see
    ``document_download``): S3's answer to it carries no ``nosniff``."""
    require(actor, VIEW_DOCUMENTS)
    version = _version(document=document, version=version)
    inline = previewable(version)
    return s3.presign_get(
        schema_name=actor.tenant.schema_name,
        key=version.key,
        content_type=version.content_type if inline else "application/octet-stream",
        content_disposition=content_disposition(name=document.name, inline=inline),
        expires_in=download_url_seconds(),
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
        expires_in=download_url_seconds(),
    )


def previewable(version: DocumentVersion) -> bool:
    """Shown inline only when the declared type is a safe one and the bytes agree with it."""
    return version.content_type in INLINE_TYPES and version.sniffed_type == version.content_type


def active(version: DocumentVersion, *, name: str) -> bool:
    """Whether a browser could run or render this version as a page: its declared type or the
    type its bytes show is not one known to be inert, or its name's extension is an active
    one (``.html``, ``.svg``, ``.exe``…). Unknown types count as active."""
    if version.content_type not in INERT_TYPES:
        return True
    if version.sniffed_type and version.sniffed_type not in INERT_TYPES:
        return True
    return name_claims_active(name)
