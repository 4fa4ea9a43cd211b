"""Background work of reporting: customer values (RFM and lifetime value) recomputed per
workspace, nightly for every workspace (recency moves with the calendar) and on request; and
each month's forecast kept as the month begins (forecast accuracy); and scheduled reports
emailed when due."""

from __future__ import annotations

from collections.abc import Sequence

from celery import shared_task
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.reporting.compiler import workspace_zone_of
from crm_modules.reporting.services.customer_values import (
    VALUES_EVENT,
    customer_values_recompute,
)
from crm_modules.reporting.services.forecasts import SNAPSHOT_EVENT, forecast_snapshot_take
from crm_modules.reporting.services.reports import dashboard_announce
from crm_modules.reporting.services.schedules import (
    SCHEDULE_ALARM,
    schedules_next_at,
    schedules_send,
)
from crm_modules.sales.api import DEAL_WON_EVENT
from tenants.alarms import alarm_reset, alarms_due
from tenants.models import Tenant
from tenants.modules import RecordEvent

# After a deal is won, customer values are recomputed this many seconds later, once for all the
# deals won meanwhile: segments on lifetime value and RFM segment follow within a minute.
RECOMPUTE_DELAY = 60
_RECOMPUTE_PENDING = "reporting.customer_values.pending"


def _recompute(tenant: Tenant) -> int:
    with transaction.atomic():
        counts = customer_values_recompute()
        dashboard_announce(tenant=tenant, event=VALUES_EVENT, payload={})
    return sum(counts.values())


@shared_task(queue="bulk")
def customer_values_recompute_task() -> int:
    """The sender's workspace (tenant_schemas_celery sets the schema)."""
    return _recompute(connection.tenant)  # type: ignore[attr-defined]


def customer_values_soon(events: Sequence[RecordEvent]) -> None:
    """Record-event listener: a won deal changes its contacts' values, so recompute the
    workspace's after commit — once per ``RECOMPUTE_DELAY`` however many deals are won. The
    pending mark (in the cache, under the workspace's prefix) expires when the queued run
    starts, so a deal won after that start queues the next run."""
    if not any(event.kind == DEAL_WON_EVENT.code for event in events):
        return

    def queue() -> None:
        if cache.add(_RECOMPUTE_PENDING, 1, timeout=RECOMPUTE_DELAY):
            customer_values_recompute_task.apply_async(countdown=RECOMPUTE_DELAY)

    transaction.on_commit(queue)


@shared_task(queue="bulk")
def customer_values_every_workspace() -> int:
    rows = 0
    workspaces = Tenant.objects.filter(state=Tenant.State.ACTIVE).exclude(schema_name="public")
    for tenant in workspaces.order_by("pk"):
        with schema_context(tenant.schema_name):
            rows += _recompute(tenant)
    return rows


def _snapshot(tenant: Tenant) -> int:
    with transaction.atomic():
        taken = forecast_snapshot_take(zone=workspace_zone_of(tenant))
        if taken:
            dashboard_announce(tenant=tenant, event=SNAPSHOT_EVENT, payload={})
    return taken


@shared_task
def forecast_snapshot_task() -> int:
    """The sender's workspace: keep this month's forecast unless already kept."""
    return _snapshot(connection.tenant)  # type: ignore[attr-defined]


@shared_task
def forecast_snapshot_every_workspace() -> int:
    """Hourly: the first run in a workspace's month (in its time zone) keeps the forecast."""
    taken = 0
    workspaces = Tenant.objects.filter(state=Tenant.State.ACTIVE).exclude(schema_name="public")
    for tenant in workspaces.order_by("pk"):
        with schema_context(tenant.schema_name):
            taken += _snapshot(tenant)
    return taken


@shared_task
def send_scheduled_reports() -> int:
    """Every minute: send the scheduled reports that are due, in the workspaces whose schedule
    alarm is due (tenants/alarms.py), not in every schema; then set each one's alarm to its
    next send time."""
    sent = 0
    now = timezone.now()
    for tenant, version in alarms_due(kind=SCHEDULE_ALARM, now=now):
        with schema_context(tenant.schema_name):
            sent += schedules_send(tenant=tenant, now=now)
            next_at = schedules_next_at()
        alarm_reset(
            kind=SCHEDULE_ALARM, schema_name=tenant.schema_name, version=version, next_at=next_at
        )
    return sent
