"""Background work of sales: tasks take plain values, run in the sender's workspace
(tenant_schemas_celery carries the schema) and call services."""

from __future__ import annotations

from celery import shared_task

from crm_modules.sales.services.duplicates import duplicates_scan


@shared_task(queue="bulk")
def duplicates_scan_task(*, entity: str) -> int:
    """The workspace-wide duplicate scan; minutes on a million contacts, so the bulk queue."""
    return duplicates_scan(entity=entity)
