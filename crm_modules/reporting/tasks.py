"""Background work of reporting: customer values (RFM and lifetime value) recomputed per
workspace, nightly for every workspace (recency moves with the calendar) and on request."""

from __future__ import annotations

from celery import shared_task
from django.db import connection, transaction
from django_tenants.utils import schema_context

from crm_modules.reporting.services.customer_values import (
    VALUES_EVENT,
    customer_values_recompute,
)
from crm_modules.reporting.services.reports import dashboard_announce
from tenants.models import Tenant


def _recompute(tenant: Tenant) -> int:
    with transaction.atomic():
        counts = customer_values_recompute()
        dashboard_announce(tenant=tenant, event=VALUES_EVENT, payload={})
    return sum(counts.values())


@shared_task(queue="bulk")
def customer_values_recompute_task() -> int:
    """The sender's workspace (tenant_schemas_celery sets the schema)."""
    return _recompute(connection.tenant)  # type: ignore[attr-defined]


@shared_task(queue="bulk")
def customer_values_every_workspace() -> int:
    rows = 0
    workspaces = Tenant.objects.filter(state=Tenant.State.ACTIVE).exclude(schema_name="public")
    for tenant in workspaces.order_by("pk"):
        with schema_context(tenant.schema_name):
            rows += _recompute(tenant)
    return rows
