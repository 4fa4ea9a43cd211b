"""Every write of the documents module, a file per concern: ``checks`` (what an upload
declares), ``uploads`` (presigned requests, tickets, verification, parts), ``versions``,
``links`` (link to one more record, unlink; a deleted record's links), ``downloads``
(presigned GETs, active types streamed by the server), ``trash`` (delete, restore, purge) and
``events`` (timeline, audit, live topic).

An upload never passes through the app server: ``document_upload_start`` checks the member,
the record, the size and the quota, and answers a presigned PUT plus a signed ticket naming
what was allowed; the browser sends the bytes to S3; ``document_upload_complete`` verifies the
object (size, type) and only then creates the rows. An abandoned upload leaves no row (the
sweeper, ``crm_modules/documents/sweeper.py``, removes its bytes).
"""

from crm_modules.documents.services.checks import (
    INLINE_TYPES,
    NAME_MAX,
    UploadTicket,
    check_content_type,
    check_name,
    check_size,
    content_disposition,
)
from crm_modules.documents.services.downloads import (
    DOWNLOAD_URL_SECONDS,
    Download,
    active,
    document_download,
    document_download_url,
    document_thumbnail_url,
    download_url_seconds,
    previewable,
)
from crm_modules.documents.services.links import (
    document_link,
    document_links_drop_for,
    document_unlink,
)
from crm_modules.documents.services.trash import (
    PURGE_BATCH,
    TRASH_DAYS,
    document_delete,
    document_restore,
    documents_purge_expired,
)
from crm_modules.documents.services.uploads import (
    TICKET_MAX_AGE_SECONDS,
    UPLOAD_URL_SECONDS,
    _sign,
    document_store,
    document_upload_abort,
    document_upload_complete,
    document_upload_resume,
    document_upload_start,
)
from crm_modules.documents.services.versions import document_version_restore

__all__ = [
    "DOWNLOAD_URL_SECONDS",
    "INLINE_TYPES",
    "NAME_MAX",
    "PURGE_BATCH",
    "TICKET_MAX_AGE_SECONDS",
    "TRASH_DAYS",
    "UPLOAD_URL_SECONDS",
    "Download",
    "UploadTicket",
    "_sign",
    "active",
    "check_content_type",
    "check_name",
    "check_size",
    "content_disposition",
    "document_delete",
    "document_download",
    "document_download_url",
    "document_link",
    "document_links_drop_for",
    "document_restore",
    "document_store",
    "document_thumbnail_url",
    "document_unlink",
    "document_upload_abort",
    "document_upload_complete",
    "document_upload_resume",
    "document_upload_start",
    "document_version_restore",
    "documents_purge_expired",
    "download_url_seconds",
    "previewable",
]
