"""The sequence sweep (Celery beat, every minute): it visits only the workspaces whose sequence
alarm is due (tenants/alarms.py), runs their due steps in claimed batches, then sets each
workspace's alarm to its next due step. A workspace whose plan leaves marketing out is held
(ADR 0078): not visited, its alarm left due, its steps waiting; they run once the plan includes
marketing again. The same sweep resumes the campaigns the plan held (ADR 0081)."""

from __future__ import annotations

import datetime
import time

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.marketing.campaigns.held import (
    CAMPAIGNS_HELD_ALARM,
    campaigns_resume,
    campaigns_still_held,
)
from crm_modules.marketing.plan import marketing_in_plan
from crm_modules.marketing.sequences.running import next_due, sequences_run_due
from crm_modules.marketing.sequences.services import SWEEP_ALARM
from tenants.alarms import alarm_reset, alarms_due

BATCH = 500


@shared_task(queue="bulk")
def sequences_sweep() -> int:
    ran = 0
    now = timezone.now()
    for tenant, version in alarms_due(kind=SWEEP_ALARM, now=now):
        if not marketing_in_plan(tenant):
            continue
        slice_end = time.monotonic() + settings.MARKETING_SEND_SLICE_SECONDS
        with schema_context(tenant.schema_name):
            while time.monotonic() < slice_end:
                outcomes = sequences_run_due(now=timezone.now(), limit=BATCH)
                ran += sum(outcomes.values())
                if sum(outcomes.values()) < BATCH:
                    break
            next_at = next_due()
        alarm_reset(
            kind=SWEEP_ALARM, schema_name=tenant.schema_name, version=version, next_at=next_at
        )
    _held_campaigns(now)
    return ran


def _held_campaigns(now: datetime.datetime) -> None:
    """The safety net of campaigns held by the plan (ADR 0081): a workspace whose held-campaign
    alarm is due and whose plan includes marketing again resumes them; while the plan leaves
    marketing out the alarm stays due (one in-memory plan check a sweep, no schema visit)."""
    for tenant, version in alarms_due(kind=CAMPAIGNS_HELD_ALARM, now=now):
        if not marketing_in_plan(tenant):
            continue
        with schema_context(tenant.schema_name):
            campaigns_resume(now=now)
            again = campaigns_still_held()
        alarm_reset(
            kind=CAMPAIGNS_HELD_ALARM,
            schema_name=tenant.schema_name,
            version=version,
            next_at=now if again else None,
        )
