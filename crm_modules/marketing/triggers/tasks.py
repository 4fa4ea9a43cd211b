"""Background work of event triggers and next best offers: tasks take plain values and call
the engine; the schema travels with each task (tenant_schemas_celery). While the workspace's
plan leaves marketing or automation out (ADR 0078) its triggers are paused: an event fires
nothing, and the delayed firings already written wait (the sweep leaves the workspace's alarm
due) until the plan includes them again."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.marketing.offers import offers_recompute
from crm_modules.marketing.plan import current_workspace, triggers_run
from crm_modules.marketing.triggers.engine import SWEEP_ALARM, evaluate, next_due, run_due
from tenants.alarms import alarm_reset, alarms_due
from tenants.models import Tenant


@shared_task
def trigger_evaluate(
    kind: str, contact_id: int, occurrence: str, data: dict[str, Any], chain: list[int]
) -> int:
    if not triggers_run(current_workspace()):
        return 0
    return len(
        evaluate(kind=kind, contact_id=contact_id, occurrence=occurrence, data=data, chain=chain)
    )


@shared_task
def trigger_sweep() -> int:
    """Run delayed firings that are due, in the workspaces whose trigger alarm is due."""
    ran = 0
    now = timezone.now()
    for tenant, version in alarms_due(kind=SWEEP_ALARM, now=now):
        if not triggers_run(tenant):
            continue
        with schema_context(tenant.schema_name):
            ran += run_due(now=now)
            next_at = next_due()
        alarm_reset(
            kind=SWEEP_ALARM, schema_name=tenant.schema_name, version=version, next_at=next_at
        )
    return ran


@shared_task(queue="bulk")
def next_best_offers_refresh() -> int:
    """The sender's workspace."""
    return offers_recompute()


@shared_task(queue="bulk")
def next_best_offers_every_workspace() -> int:
    rows = 0
    workspaces = Tenant.objects.filter(state=Tenant.State.ACTIVE).exclude(schema_name="public")
    for tenant in workspaces.order_by("pk"):
        with schema_context(tenant.schema_name):
            rows += offers_recompute()
    return rows
