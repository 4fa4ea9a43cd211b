"""Validation of what an upload declares (name, type, size against the plan and the quota),
the ticket an upload answers, and the Content-Disposition a download carries."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from crm_modules.documents.quota import max_file_bytes, storage_quota_bytes, storage_used_bytes
from crm_platform.errors import ServiceError
from tenants.models import Tenant

NAME_MAX = 255
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
    refusal = quota_refusal(tenant=tenant, size=size)
    if refusal is not None:
        raise refusal
    return size


def quota_refusal(*, tenant: Tenant, size: int) -> ServiceError | None:
    """The error to answer when ``size`` more bytes would take the workspace past its plan's
    storage quota; None when they fit (or the plan has no quota)."""
    quota = storage_quota_bytes(tenant)
    if quota is None:
        return None
    used = storage_used_bytes()
    if used + size <= quota:
        return None
    return ServiceError(
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


def content_disposition(*, name: str, inline: bool) -> str:
    """RFC 6266 with the RFC 5987 ``filename*`` for any script, and a plain ASCII fallback."""
    fallback = "".join(
        ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_"
        for ch in unicodedata.normalize("NFKD", name)
        if not unicodedata.combining(ch)
    )
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(name, safe='')}"
