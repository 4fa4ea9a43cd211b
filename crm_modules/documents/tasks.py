import logging

from celery import shared_task
from django_tenants.utils import schema_context

from crm_modules.documents import services
from tenants.models import Tenant

logger = logging.getLogger("rapport.documents")


@shared_task
def render_pdf_thumbnail(*, version_id: int) -> bool:
    """The first page of a PDF version as a PNG (sent on commit by the upload's completion; the
    workspace's schema travels with the task)."""
    from django.db import connection

    from crm_modules.documents.thumbnails import version_thumbnail_render

    return version_thumbnail_render(
        schema_name=connection.schema_name,  # type: ignore[attr-defined]
        version_id=version_id,
    )


@shared_task
def purge_document_trash() -> int:
    """Every workspace, each on its own: remove documents whose 30 days in the trash are over.
    A workspace whose objects cannot be deleted now keeps its rows for the next run and does
    not hold up the others."""
    purged = 0
    workspaces = Tenant.objects.exclude(state=Tenant.State.SPARE).exclude(schema_name="public")
    for schema_name in workspaces.values_list("schema_name", flat=True):
        try:
            with schema_context(schema_name):
                purged += services.documents_purge_expired(schema_name=schema_name)
        except Exception:
            logger.exception("document trash purge failed", extra={"schema": schema_name})
    return purged


@shared_task
def sweep_abandoned_uploads() -> int:
    """Every workspace, each on its own: delete the objects of uploads that were never
    completed (single-request documents, versions and logos) and abort uploads in parts left
    open. A workspace whose bucket cannot be swept now is tried again on the next run."""
    from crm_modules.documents.sweeper import abandoned_uploads_sweep

    swept = 0
    workspaces = Tenant.objects.exclude(state=Tenant.State.SPARE).exclude(schema_name="public")
    for schema_name in workspaces.values_list("schema_name", flat=True):
        try:
            with schema_context(schema_name):
                result = abandoned_uploads_sweep(schema_name=schema_name)
        except Exception:
            logger.exception("abandoned upload sweep failed", extra={"schema": schema_name})
            continue
        swept += result.objects + result.uploads
    return swept
