"""SLA warnings and breaches, told by the Celery beat sweep (``tasks.send_sla_alerts``).

Every ticket write that moves a due time sets the ticket's ``sla_alarm_at`` (``sla.py``) and the
workspace's ``service.sla`` alarm (tenants/alarms.py), so the sweep, which runs every minute,
visits only workspaces with something to tell and reads only the tickets whose alarm is due.
A warning goes out a few business minutes before a due time and a notice at the breach, each
once per target and due time: to the assignee, else to the members of the ticket's team who
work tickets, else to the workspace's managers; on their open pages (the notifications socket)
and by email, in each member's language and time zone. A breach is also written on the
ticket's shared timeline and in the audit log.

A breach's escalations (notify, reassign, raise the priority) are those of the ticket's policy
(ADR 0061) and run within the business hours of the ticket's calendar (ADR 0044): a breach
found outside them, or by a sweep that ran late into the night, is kept as a
``DeferredEscalation`` and escalated at the next opening.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.service import sla
from crm_modules.service.models import (
    DONE_STATUSES,
    DeferredEscalation,
    Priority,
    SlaEscalation,
    Status,
    Ticket,
)
from crm_modules.service.module import (
    ASSIGN_TICKETS,
    ENTRY_SLA_BREACH,
    SLA_BREACHED,
    TICKET_ESCALATED,
    WORK_TICKETS,
)
from crm_modules.service.plan import automation_runs
from crm_modules.service.services import routing
from tenants.alarms import alarm_at
from tenants.audit.services import audit_record
from tenants.hosts import workspace_url
from tenants.models import Membership, Tenant
from tenants.notifications import notify_user

# The workspace alarm (tenants/alarms.py) that brings the sweep to a workspace.
SLA_ALARM = "service.sla"
SWEEP_BATCH = 500


def sla_alarm(ticket: Ticket) -> None:
    """``ticket`` was written in the current workspace: make sure the sweep visits it by the
    ticket's next warning or breach."""
    alarm_at(kind=SLA_ALARM, at=ticket.sla_alarm_at)


def sla_alerts_next_at() -> datetime.datetime | None:
    """When the sweep next has something to tell in the current workspace (None: nothing
    until a ticket is written)."""
    ticket_at = (
        Ticket.objects.filter(sla_alarm_at__isnull=False)
        .order_by("sla_alarm_at", "id")
        .values_list("sla_alarm_at", flat=True)
        .first()
    )
    deferred_at = (
        DeferredEscalation.objects.order_by("run_at", "id").values_list("run_at", flat=True).first()
    )
    return min((t for t in (ticket_at, deferred_at) if t is not None), default=None)


def _target_label(code: str) -> str:
    labels = {"first_response": _("First response"), "next_response": _("Next response")}
    return str(labels.get(code, _("Resolution")))


def _recipients(ticket: Ticket, members: list[Membership]) -> list[Membership]:
    """The assignee; else the team's members who work tickets; else the managers."""
    if ticket.assignee_id is not None:
        for member in members:
            if member.user_id == ticket.assignee_id and member.role in WORK_TICKETS.roles:
                return [member]
    if ticket.team_id is not None:
        team = [m for m in members if m.team_id == ticket.team_id and m.role in WORK_TICKETS.roles]
        if team:
            return team
    return [m for m in members if m.role in ASSIGN_TICKETS.roles]


def _tell(
    *, tenant: Tenant, member: Membership, ticket: Ticket, target: str, kind: str, url: str
) -> None:
    user = member.user
    due_at = getattr(ticket, f"{target}_due_at")
    with (
        translation.override(user.language or settings.LANGUAGE_CODE),
        timezone.override(user.time_zone or tenant.time_zone or "UTC"),
    ):
        values = {
            "target": _target_label(target),
            "number": ticket.pk,
            "subject": ticket.subject,
            "when": formats.date_format(timezone.localtime(due_at), "SHORT_DATETIME_FORMAT"),
        }
        if kind == "breach":
            text = _("SLA breached: %(target)s of ticket #%(number)s was due %(when)s") % values
        else:
            text = _("SLA warning: %(target)s of ticket #%(number)s is due %(when)s") % values
        body = render_to_string(
            "service/email/sla_alert.txt",
            {**values, "kind": kind, "url": url, "member": member, "workspace": tenant},
        )
    notify_user(
        tenant=tenant,
        user_id=user.pk,
        event="notification",
        payload={"text": text, "kind": "error" if kind == "breach" else "info", "url": url},
    )
    send_mail(text, body, None, [user.email])  # queued for delivery after commit


def sla_alerts_send(*, tenant: Tenant, now: datetime.datetime | None = None) -> int:
    """In the current workspace schema: tell the warnings and breaches due by ``now``, each
    once. Returns how many were told. Safe to run concurrently: tickets being told by another
    run, or being written by an agent, are skipped and looked at by the next sweep."""
    now = now or timezone.now()
    with transaction.atomic():
        tickets = list(
            Ticket.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("contact", "company")
            .filter(sla_alarm_at__lte=now)
            .order_by("sla_alarm_at", "id")[:SWEEP_BATCH]
        )
        deferred = list(
            DeferredEscalation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(run_at__lte=now)
            .order_by("run_at", "id")[:SWEEP_BATCH]
        )
        if not tickets and not deferred:
            return 0
        members = list(
            Membership.objects.filter(tenant=tenant, status=Membership.Status.ACTIVE)
            .select_related("user")
            .order_by("pk")
        )
        told = 0
        escalations: dict[int, list[SlaEscalation]] = {}
        # Escalations are workflow automation (ADR 0081): paused while the plan leaves it out;
        # a breach meanwhile is told but never escalated, not even later.
        escalating = automation_runs(tenant)

        def policy_escalations(ticket: Ticket) -> list[SlaEscalation]:
            # Each policy has its own escalations (ADR 0061): those of the ticket's policy.
            if ticket.sla_policy_id is None or not escalating:
                return []
            if ticket.sla_policy_id not in escalations:
                escalations[ticket.sla_policy_id] = list(
                    SlaEscalation.objects.filter(policy_id=ticket.sla_policy_id).order_by("id")
                )
            return escalations[ticket.sla_policy_id]

        for ticket in tickets:
            alerts = sla.alerts_due(ticket, now=now)
            ticket.save(update_fields=list(sla.TIMER_FIELDS))
            if not alerts:
                continue
            url = workspace_url(
                tenant.slug or "", reverse("service:ticket_detail", args=[ticket.pk])
            )
            for target, kind in alerts:
                if kind == "breach":
                    _record_breach(tenant=tenant, ticket=ticket, target=target)
                told_to = _recipients(ticket, members)
                for member in told_to:
                    _tell(
                        tenant=tenant,
                        member=member,
                        ticket=ticket,
                        target=target,
                        kind=kind,
                        url=url,
                    )
                if kind == "breach" and policy_escalations(ticket):
                    timer = sla.clock_for(ticket)
                    due_at: datetime.datetime = getattr(ticket, f"{target}_due_at")
                    run_at = sla.escalation_at(due_at, now, timer.schedule) if timer else now
                    if run_at > now:
                        DeferredEscalation.objects.get_or_create(
                            ticket=ticket,
                            target=target,
                            defaults={"breached_at": due_at, "run_at": run_at},
                        )
                        alarm_at(kind=SLA_ALARM, at=run_at)
                    else:
                        _escalate(
                            tenant=tenant,
                            ticket=ticket,
                            target=target,
                            members=members,
                            told=told_to,
                            escalations=policy_escalations(ticket),
                            url=url,
                            now=now,
                        )
                told += 1
        told += _run_deferred(
            tenant=tenant, rows=deferred, members=members, now=now, get=policy_escalations
        )
    return told


def _run_deferred(
    *,
    tenant: Tenant,
    rows: list[DeferredEscalation],
    members: list[Membership],
    now: datetime.datetime,
    get: Callable[[Ticket], list[SlaEscalation]],
) -> int:
    """Escalate the breaches that waited for business hours. A ticket solved or closed in the
    meantime is not escalated; a ticket being written just now waits for the next sweep."""
    ran = 0
    for row in rows:
        ticket = (
            Ticket.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("contact", "company")
            .filter(pk=row.ticket_id)
            .first()
        )
        if ticket is None:
            continue
        row.delete()
        if ticket.status in DONE_STATUSES:
            continue
        url = workspace_url(tenant.slug or "", reverse("service:ticket_detail", args=[ticket.pk]))
        _escalate(
            tenant=tenant,
            ticket=ticket,
            target=row.target,
            members=members,
            told=_recipients(ticket, members),
            # Empty while the plan pauses escalations: the waiting breach is dropped.
            escalations=get(ticket),
            url=url,
            now=now,
            breached_at=row.breached_at,
        )
        ran += 1
    return ran


RAISED = {
    Priority.LOW: Priority.NORMAL,
    Priority.NORMAL: Priority.HIGH,
    Priority.HIGH: Priority.URGENT,
}


def _escalate(
    *,
    tenant: Tenant,
    ticket: Ticket,
    target: str,
    members: list[Membership],
    told: list[Membership],
    escalations: list[SlaEscalation],
    url: str,
    now: datetime.datetime,
    breached_at: datetime.datetime | None = None,
) -> None:
    """Run the policy's escalations for a breach of ``target`` on the locked ``ticket``, now:
    the caller has checked that ``now`` is within business hours (``sla.escalation_at``).
    ``breached_at`` names the breach of an escalation that waited for business hours."""
    by_user = {m.user_id: m for m in members}
    for escalation in escalations:
        if escalation.target not in (SlaEscalation.Target.ANY, target):
            continue
        done: dict[str, Any] = {"target": target, "action": escalation.action}
        if breached_at is not None:
            done["breached_at"] = breached_at.isoformat()
        if escalation.action == SlaEscalation.Action.NOTIFY:
            member = by_user.get(escalation.user_id or 0)
            if member is None or member in told:
                continue
            _tell(
                tenant=tenant, member=member, ticket=ticket, target=target, kind="breach", url=url
            )
            done["user"] = member.user_id
        elif escalation.action == SlaEscalation.Action.RAISE_PRIORITY:
            raised = RAISED.get(Priority(ticket.priority))
            if raised is None:
                continue
            done["from"], done["to"] = ticket.priority, raised.value
            ticket.priority = raised.value
            sla.recompute(ticket, sla.clock_for(ticket))
            ticket.save(update_fields=["priority", *sla.TIMER_FIELDS])
        else:
            member = by_user.get(escalation.user_id or 0)
            if member is not None and member.role not in WORK_TICKETS.roles:
                member = None
            if member is None and escalation.team_id is None:
                continue
            before = ticket.assignee_id
            ticket.assignee_id = member.user_id if member is not None else None
            fields = ["assignee", "team", "queued_at", "updated_at"]
            if escalation.team_id is not None:
                ticket.team_id = escalation.team_id
                if sla.policy_reselect(ticket, time_zone=tenant.time_zone):
                    fields += ["sla_policy", *sla.TIMER_FIELDS]
            ticket.queued_at = None
            ticket.updated_at = now
            if ticket.assignee_id is not None and ticket.status == Status.NEW:
                sla.on_status(ticket, new_status=Status.OPEN, timer=sla.clock_for(ticket), now=now)
                fields += sla.TIMER_FIELDS
            ticket.save(update_fields=sorted(set(fields)))
            if ticket.assignee_id is None:
                routing.route_ticket(tenant=tenant, ticket=ticket, now=now)
            done["from"], done["to"] = before, ticket.assignee_id
            previous = by_user.get(before or 0)
            if (
                previous is not None
                and previous.team_id is not None
                and before != ticket.assignee_id
            ):
                routing.routing_drain(tenant=tenant, team_id=previous.team_id, now=now)
        audit_record(tenant=tenant, actor=None, action=TICKET_ESCALATED, target=ticket, data=done)


def _record_breach(*, tenant: Tenant, ticket: Ticket, target: str) -> None:
    due_at: datetime.datetime = getattr(ticket, f"{target}_due_at")
    data: dict[str, Any] = {"ticket": ticket.pk, "target": target, "due_at": due_at.isoformat()}
    concerns = [r for r in (ticket, ticket.contact, ticket.company) if r is not None]
    timeline.activity_log(
        kind=ENTRY_SLA_BREACH.code,
        author=None,
        concerns=concerns,
        subject=ticket.subject,
        body=str(_("SLA target breached: %(target)s") % {"target": _target_label(target)}),
        occurred_at=due_at,
        data=data,
    )
    audit_record(tenant=tenant, actor=None, action=SLA_BREACHED, target=ticket, data=data)
