"""Background work of service: the SLA sweep visits the workspaces whose ``service.sla`` alarm
is due (tenants/alarms.py), tells the warnings and breaches due there, and sets each visited
workspace's alarm to its next one. A workspace whose plan leaves service out is held (ADR
0078): not visited and its alarm left due, so what is due is told once the plan includes it.
The same sweep sends the satisfaction surveys the plan held, once it allows them (ADR 0081)."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.service.plan import service_in_plan
from crm_modules.service.services.csat import CSAT_HELD_ALARM, csat_surveys_resume
from crm_modules.service.services.sla_alerts import (
    SLA_ALARM,
    sla_alerts_next_at,
    sla_alerts_send,
)
from tenants.alarms import alarm_reset, alarms_due
from tenants.models import Tenant


@shared_task
def send_sla_alerts() -> int:
    """Warn of SLA targets about to be breached and tell the breaches, once each."""
    told = 0
    now = timezone.now()
    for tenant, version in alarms_due(kind=SLA_ALARM, now=now):
        if not service_in_plan(tenant):
            continue
        with schema_context(tenant.schema_name):
            told += sla_alerts_send(tenant=tenant, now=now)
            next_at = sla_alerts_next_at()
        alarm_reset(
            kind=SLA_ALARM, schema_name=tenant.schema_name, version=version, next_at=next_at
        )
    _held_surveys(now)
    return told


def _held_surveys(now: datetime.datetime) -> None:
    """Workspaces with satisfaction surveys held by the plan (ADR 0081): once the plan
    includes service again, the sweep sends those still within the window and marks the rest
    expired; while it does not, the alarm stays due (one in-memory plan check a sweep)."""
    for tenant, version in alarms_due(kind=CSAT_HELD_ALARM, now=now):
        if not service_in_plan(tenant):
            continue
        with schema_context(tenant.schema_name):
            more = csat_surveys_resume(tenant=tenant, now=now)
        alarm_reset(
            kind=CSAT_HELD_ALARM,
            schema_name=tenant.schema_name,
            version=version,
            next_at=now if more else None,
        )


@shared_task
def resume_held_csat_surveys() -> None:
    """After the plan changed (billing's ``plan_changed``), in the workspace schema the task
    was sent from: send what the plan held. The sweep clears the alarm on its next visit."""
    from django.db import connection

    schema: str = connection.schema_name  # type: ignore[attr-defined]
    tenant = Tenant.objects.get(schema_name=schema)
    while csat_surveys_resume(tenant=tenant):
        pass


def on_plan_change(tenant: Tenant) -> None:
    """Registered with billing: the plan of ``tenant`` was written."""
    if service_in_plan(tenant):
        with schema_context(tenant.schema_name):
            resume_held_csat_surveys.delay()


@shared_task
def reapply_sla_policies(
    contacts: list[int] | None = None, companies: list[int] | None = None
) -> int:
    """The open tickets of the workspace the task was sent from (every one, or those of these
    contacts and companies) get the SLA policy the rules choose now (ADR 0061)."""
    from crm_modules.service.services.inbound import current_tenant
    from crm_modules.service.services.sla_policies import sla_policies_reapply

    # The schema is set by tenant-schemas-celery from the one the task was sent from.
    return sla_policies_reapply(tenant=current_tenant(), contacts=contacts, companies=companies)


@shared_task
def purge_inbound_raw() -> int:
    """Every workspace, each on its own: delete the raw MIME kept past the retention period
    (a workspace that fails is tried again on the next run and does not hold up the others)."""
    import logging

    from crm_modules.service.services.inbound_failed import inbound_raw_purge
    from tenants.models import Tenant

    purged = 0
    now = timezone.now()
    workspaces = Tenant.objects.exclude(state=Tenant.State.SPARE).exclude(schema_name="public")
    for schema_name in workspaces.values_list("schema_name", flat=True):
        try:
            with schema_context(schema_name):
                purged += inbound_raw_purge(now=now)
        except Exception:
            logging.getLogger(__name__).exception(
                "inbound raw purge failed", extra={"schema": schema_name}
            )
    return purged


@shared_task
def process_inbound_email(inbound_id: int) -> str:
    """Ticket one received email (its own task: one bad message never blocks the others)."""
    from crm_modules.service.services.inbound import inbound_process

    return inbound_process(inbound_id=inbound_id)


@shared_task
def send_ticket_email(email_id: int, body: str) -> str:
    """Send one queued email to a ticket's contact."""
    from crm_modules.service.services.outbound import email_send

    return email_send(email_id=email_id, body=body)


@shared_task
def send_csat_survey(survey_id: int) -> None:
    """Email one satisfaction survey (sent from the workspace schema it was made in, D6)."""
    from django.db import connection

    from crm_modules.service.services.csat import csat_survey_send
    from tenants.models import Tenant

    # The schema is set by tenant-schemas-celery from the one the task was sent from.
    schema: str = connection.schema_name  # type: ignore[attr-defined]
    tenant = Tenant.objects.get(schema_name=schema)
    csat_survey_send(tenant=tenant, survey_id=survey_id)
