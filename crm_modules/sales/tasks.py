"""Background work of sales: tasks take plain values and call services. Per-workspace tasks run
in the sender's workspace (tenant_schemas_celery carries the schema); the reminder sweep visits
the workspaces whose reminder alarm is due."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.sales.services.contacts import contacts_search_text_refresh
from crm_modules.sales.services.duplicates import duplicates_scan
from crm_modules.sales.services.reminders import (
    REMINDER_ALARM,
    task_reminders_next_at,
    task_reminders_send,
)
from tenants.alarms import alarm_reset, alarms_due


@shared_task
def send_task_reminders() -> int:
    """Remind assignees of tasks due soon, in the workspaces whose reminder alarm is due
    (tenants/alarms.py), not in every schema; then set each one's alarm to its next task."""
    sent = 0
    now = timezone.now()
    for tenant, version in alarms_due(kind=REMINDER_ALARM, now=now):
        with schema_context(tenant.schema_name):
            sent += task_reminders_send(tenant=tenant, now=now)
            next_at = task_reminders_next_at(now=now)
        alarm_reset(
            kind=REMINDER_ALARM, schema_name=tenant.schema_name, version=version, next_at=next_at
        )
    return sent


@shared_task(queue="bulk")
def duplicates_scan_task(*, entity: str) -> int:
    """The workspace-wide duplicate scan; minutes on a million contacts, so the bulk queue."""
    return duplicates_scan(entity=entity)


@shared_task(queue="bulk")
def contacts_search_text_refresh_task(*, company_ids: list[int]) -> int:
    """Contacts of renamed or merged companies are found by the company's new name."""
    return contacts_search_text_refresh(company_ids=company_ids)
