"""The sweep of abandoned uploads: bytes a browser sent to S3 that no committed row ever took
(the upload was never completed, or its completion was refused and the cleanup failed). An
object is abandoned once it is older than the upload tickets live (so no completion can still
come) plus a margin, ``DOCUMENTS_ABANDONED_UPLOAD_HOURS``:

- ``documents/<uuid>/<n>``: no version of any document names this key (a restored version
  names the older version's key, so that object stays);
- ``logo/<uuid>.<ext>``: not the workspace's logo;
- an upload in parts still open: aborted (S3 drops its parts).

Thumbnails are left alone (a version's background rendering writes them). Every S3 call goes
through ``crm_platform.s3``; a page of keys at a time, so memory stays flat however many
documents a workspace holds."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from crm_modules.documents.models import DocumentVersion
from crm_modules.documents.services import TICKET_MAX_AGE_SECONDS
from crm_platform import s3
from tenants.models import Tenant

_VERSION = re.compile(
    r"^documents/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/\d+$"
)


@dataclass(frozen=True)
class SweepResult:
    objects: int  # objects deleted
    uploads: int  # uploads in parts aborted


def abandoned_before(now: datetime.datetime | None = None) -> datetime.datetime:
    hours = max(float(settings.DOCUMENTS_ABANDONED_UPLOAD_HOURS), TICKET_MAX_AGE_SECONDS / 3600 + 1)
    return (now or timezone.now()) - datetime.timedelta(hours=hours)


def _orphan_versions(schema_name: str, keys: list[str]) -> list[str]:
    prefix = s3.workspace_prefix(schema_name)
    candidates: dict[str, str] = {}
    for key in keys:
        match = _VERSION.match(key.removeprefix(prefix))
        if match:
            candidates[key] = match.group(1)
    if not candidates:
        return []
    # One query a page, through the unique index on the document's uuid.
    kept = set(
        DocumentVersion.objects.filter(
            document__uuid__in=set(candidates.values()), key__in=list(candidates)
        ).values_list("key", flat=True)
    )
    return [key for key in candidates if key not in kept]


def abandoned_uploads_sweep(
    *, schema_name: str, now: datetime.datetime | None = None
) -> SweepResult:
    """Remove what abandoned uploads left in the current workspace's part of the bucket."""
    before = abandoned_before(now)
    deleted = 0
    for page in s3.workspace_objects_before(
        schema_name=schema_name, folder="documents", before=before
    ):
        orphans = _orphan_versions(schema_name, page)
        if orphans:
            s3.objects_delete(schema_name=schema_name, keys=orphans)
            deleted += len(orphans)
    logo = Tenant.objects.filter(schema_name=schema_name).values_list("logo_key", flat=True).first()
    for page in s3.workspace_objects_before(schema_name=schema_name, folder="logo", before=before):
        stale = [key for key in page if key != logo]
        if stale:
            s3.objects_delete(schema_name=schema_name, keys=stale)
            deleted += len(stale)
    aborted = 0
    for key, upload_id in s3.multipart_uploads_before(
        schema_name=schema_name, folder="documents", before=before
    ):
        s3.multipart_abort(schema_name=schema_name, key=key, upload_id=upload_id)
        aborted += 1
    return SweepResult(objects=deleted, uploads=aborted)
