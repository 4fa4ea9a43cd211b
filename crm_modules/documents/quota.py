"""How much a workspace may store, and how much it does.

Hook for billing: once ``billing`` offers ``plan_limit(tenant, "storage_bytes")`` (and
``"document_bytes"``), read them here; until then every plan gets the defaults in settings.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Sum

from crm_modules.documents.models import DocumentVersion
from tenants.models import Tenant


def storage_quota_bytes(tenant: Tenant) -> int:
    return int(settings.DOCUMENTS_DEFAULT_QUOTA_BYTES)


def max_file_bytes(tenant: Tenant) -> int:
    return int(settings.DOCUMENTS_MAX_FILE_BYTES)


def storage_used_bytes() -> int:
    """Bytes held by every version of every document (the trash included) of the workspace
    the connection is set to. Restored versions share their source's object."""
    total = DocumentVersion.objects.filter(restored_from__isnull=True).aggregate(s=Sum("size"))
    return int(total["s"] or 0)
