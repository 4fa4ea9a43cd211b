"""How much a workspace may store, and how much it does.

The storage quota and the largest single file are the plan's (billing's plan-limits facade,
D19).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from billing.plans import Limit, plan_limit
from crm_modules.documents.models import DocumentVersion
from tenants.models import Tenant

# S3 takes at most this many parts for one object.
S3_MOST_PARTS = 10_000


def storage_quota_bytes(tenant: Tenant) -> int | None:
    """The plan's storage limit; None: unlimited."""
    return plan_limit(tenant, Limit.STORAGE_BYTES)


def max_file_bytes(tenant: Tenant) -> int:
    """The largest single file the plan takes (billing's plan limits); a plan without a
    limit takes what one object uploaded in our parts can hold."""
    limit = plan_limit(tenant, Limit.FILE_BYTES)
    if limit is None:
        return int(settings.DOCUMENTS_MULTIPART_PART_BYTES) * S3_MOST_PARTS
    return limit


def storage_used_bytes() -> int:
    """Bytes held by every version of every document (the trash included) of the workspace
    the connection is set to. Restored versions share their source's object."""
    total = DocumentVersion.objects.filter(restored_from__isnull=True).aggregate(s=Sum("size"))
    return int(total["s"] or 0)


def storage_lock() -> None:
    """Serialise, until the current transaction ends, every write that adds bytes to the
    storage of the workspace the connection is set to: the quota is checked again under this
    lock, so two uploads completing at once cannot both take the last free bytes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"{connection.schema_name}:documents.storage"],  # type: ignore[attr-defined]
        )


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
