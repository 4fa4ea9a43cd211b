from celery import shared_task
from django_tenants.utils import schema_context

from crm_modules.documents import services
from tenants.models import Tenant


@shared_task
def purge_document_trash() -> int:
    """Every workspace: remove documents whose 30 days in the trash are over."""
    purged = 0
    workspaces = Tenant.objects.exclude(state=Tenant.State.SPARE).exclude(schema_name="public")
    for schema_name in workspaces.values_list("schema_name", flat=True):
        with schema_context(schema_name):
            purged += services.documents_purge_expired(schema_name=schema_name)
    return purged
