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
# Types no browser runs or renders as a page: downloaded through a presigned GET. Any other
# type — HTML, SVG, XML, scripts, executables, and every type not listed — is active: the server
# streams it itself as an attachment with ``nosniff`` (ADR 0077).
_TEXT_TYPES = frozenset({"text/plain", "text/csv", "text/markdown", "application/json"})
INERT_TYPES = (
    INLINE_TYPES
    | _TEXT_TYPES
    | frozenset(
        {
            "application/zip",
            "application/rtf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
            "audio/mpeg",
            "audio/mp4",
            "audio/ogg",
            "audio/wav",
            "video/mp4",
            "video/webm",
            "video/quicktime",
        }
    )
)
# What an extension claims the file is, where the claim is checked against the bytes: a
# previewable type must be exactly what the content shows.
_PREVIEW_EXTENSIONS = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
# Extensions of files a browser or the operating system runs or renders as a page, whatever
# type was declared for them.
_ACTIVE_EXTENSIONS = frozenset(
    {
        "htm", "html", "xhtml", "shtml", "mht", "mhtml", "svg", "svgz", "xml", "xsl", "xslt",
        "js", "mjs", "hta", "swf", "exe", "dll", "msi", "com", "scr", "bat", "cmd", "ps1",
        "vbs", "jar", "app", "dmg", "pkg", "apk", "sh", "elf", "bin", "lnk", "reg",
    }
)  # fmt: skip
# Extensions claiming an inert type that is not text: such a name holding a page or an
# executable is refused (text files are never refused for what their text looks like).
_INERT_BINARY_EXTENSIONS = frozenset(
    {
        "zip", "rtf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp",
        "mp3", "m4a", "ogg", "wav", "mp4", "webm", "mov",
    }
)  # fmt: skip
# Types the bytes can show that a browser renders as a page or a system runs.
_ACTIVE_CONTENT = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/xml",
        "text/xml",
        "application/vnd.microsoft.portable-executable",
        "application/x-dosexec",
        "application/x-msdownload",
        "application/x-executable",
        "application/x-elf",
        "application/x-iso9660-appimage",
        "application/x-mach-binary",
        "application/x-sh",
    }
)


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


def name_extension(name: str) -> str:
    """The extension of a display name, lower case, without the dot ("" when none)."""
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def name_claims_active(name: str) -> bool:
    return name_extension(name) in _ACTIVE_EXTENSIONS


def check_content_matches_name(*, name: str, sniffed: str) -> None:
    """Refuse bytes that contradict the name's extension where it matters: a name claiming a
    previewable type (``.pdf``, ``.png``, ``.jpg``…) must hold exactly that, and a name
    claiming an office file, an archive or media must not hold a page, an SVG or an
    executable. Text files (``.csv``, ``.txt``, ``.md``, ``.json``) are never refused for what
    their text looks like (ADR 0077)."""
    extension = name_extension(name)
    claimed = _PREVIEW_EXTENSIONS.get(extension)
    if claimed is not None and sniffed != claimed:
        raise _mismatch(extension=extension, sniffed=sniffed)
    if extension in _INERT_BINARY_EXTENSIONS and sniffed in _ACTIVE_CONTENT:
        raise _mismatch(extension=extension, sniffed=sniffed)


def _mismatch(*, extension: str, sniffed: str) -> ServiceError:
    return ServiceError(
        _(
            "The name ends in .%(extension)s, but the file's content is %(sniffed)s. "
            "Upload the real file or give it a name that says what it is."
        )
        % {"extension": extension, "sniffed": sniffed or _("of no type we recognise")},
        field="name",
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
