from celery import shared_task
from django_tenants.utils import schema_context

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
