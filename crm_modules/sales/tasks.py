"""Background work of sales: tasks take plain values and call services. Per-workspace tasks run
in the sender's workspace (tenant_schemas_celery carries the schema); the reminder sweep walks
every live workspace itself."""

from __future__ import annotations

from celery import shared_task
from django_tenants.utils import schema_context

from crm_modules.sales.services.contacts import contacts_search_text_refresh
from crm_modules.sales.services.duplicates import duplicates_scan
from crm_modules.sales.services.reminders import task_reminders_send
from tenants.models import Tenant


@shared_task
def send_task_reminders() -> int:
    """Every live workspace, in its own schema: remind assignees of tasks due soon."""
    sent = 0
    workspaces = Tenant.objects.filter(state=Tenant.State.ACTIVE).exclude(schema_name="public")
    for tenant in workspaces.order_by("pk"):
        with schema_context(tenant.schema_name):
            sent += task_reminders_send(tenant=tenant)
    return sent


@shared_task(queue="bulk")
def duplicates_scan_task(*, entity: str) -> int:
    """The workspace-wide duplicate scan; minutes on a million contacts, so the bulk queue."""
    return duplicates_scan(entity=entity)


@shared_task(queue="bulk")
def contacts_search_text_refresh_task(*, company_ids: list[int]) -> int:
    """Contacts of renamed or merged companies are found by the company's new name."""
    return contacts_search_text_refresh(company_ids=company_ids)
