"""How much a workspace may store, and how much it does.

The storage quota is the plan's (billing's plan-limits facade, D19); the largest single file
is a setting for every plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum

from billing.plans import Limit, plan_limit
from crm_modules.documents.models import DocumentVersion
from tenants.models import Tenant


def storage_quota_bytes(tenant: Tenant) -> int | None:
    """The plan's storage limit; None: unlimited."""
    return plan_limit(tenant, Limit.STORAGE_BYTES)


def max_file_bytes(tenant: Tenant) -> int:
    return int(settings.DOCUMENTS_MAX_FILE_BYTES)


def storage_used_bytes() -> int:
    """Bytes held by every version of every document (the trash included) of the workspace
    the connection is set to. Restored versions share their source's object."""
    total = DocumentVersion.objects.filter(restored_from__isnull=True).aggregate(s=Sum("size"))
    return int(total["s"] or 0)


@dataclass(frozen=True)
class StorageUsage:
    used: int
    quota: int | None

    @property
    def percent(self) -> int:
        """Share of the quota in use, 0 to 100 (0 when unlimited)."""
        if not self.quota:
            return 0
        return min(100, (self.used * 100) // self.quota)


def storage_usage(tenant: Tenant) -> StorageUsage:
    return StorageUsage(used=storage_used_bytes(), quota=storage_quota_bytes(tenant))
