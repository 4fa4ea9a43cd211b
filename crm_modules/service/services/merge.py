"""Merge two tickets and split a message off into a ticket of its own (ADR 0037).

A merge moves the merged ticket's messages and shared-timeline history to the ticket that
carries on (the survivor), closes the merged one with a pointer to the survivor, and from then
on a reply to the merged ticket lands on the survivor. Both tickets are locked in id order, so
two merges of the same pair never deadlock.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.service import sla
from crm_modules.service.models import DONE_STATUSES, Status, Ticket, TicketMessage
from crm_modules.service.module import (
    ENTRY_MERGED,
    ENTRY_SPLIT,
    TICKET_MERGED,
    TICKET_SPLIT,
    TICKETS_TOPIC,
    WORK_TICKETS,
)
from crm_modules.service.services.sla_alerts import sla_alarm
from crm_modules.service.services.tickets import _room_freed, ticket_create
from crm_platform.errors import ServiceError
from tenants import live
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require


def _ticket_id(raw: Any) -> int:
    try:
        number = int(raw)
    except (TypeError, ValueError):
        number = 0
    if number <= 0 or isinstance(raw, bool):
        raise ServiceError(_("Give the number of a ticket of this workspace."), field="into")
    return number


def _concerns(ticket: Ticket) -> list[Any]:
    return [r for r in (ticket, ticket.contact, ticket.company) if r is not None]


def ticket_merge(
    *, actor: Membership, ticket: Ticket, into_id: Any, now: datetime.datetime | None = None
) -> Ticket:
    """Merge ``ticket`` into the ticket numbered ``into_id``; returns the survivor."""
    require(actor, WORK_TICKETS, ticket)
    target_id = _ticket_id(into_id)
    if target_id == ticket.pk:
        raise ServiceError(_("A ticket cannot be merged into itself."), field="into")
    when = now or timezone.now()
    with transaction.atomic():
        locked = {
            t.pk: t
            for t in Ticket.objects.select_for_update(of=("self",))
            .select_related("contact", "company")
            .filter(pk__in=[ticket.pk, target_id])
            .order_by("pk")
        }
        if target_id not in locked:
            raise ServiceError(_("Give the number of a ticket of this workspace."), field="into")
        source, target = locked[ticket.pk], locked[target_id]
        require(actor, WORK_TICKETS, source)
        require(actor, WORK_TICKETS, target)
        if source.merged_into_id is not None:
            raise ServiceError(_("This ticket has already been merged."), field="into")
        if target.status == Status.CLOSED:
            raise ServiceError(
                _("A closed ticket cannot take another; choose an open one."), field="into"
            )
        moved = TicketMessage.objects.filter(ticket=source).update(ticket=target)
        timeline.timeline_move(source=source, target=target)
        if source.description:
            TicketMessage.objects.create(
                ticket=target,
                kind=TicketMessage.Kind.NOTE,
                direction=TicketMessage.Direction.INTERNAL,
                body=_("Merged from #%(number)s %(subject)s:\n\n%(text)s")
                % {"number": source.pk, "subject": source.subject, "text": source.description},
                author=actor.user,
                created_at=source.created_at,
            )
        target.tags = [*target.tags, *(t for t in source.tags if t not in target.tags)][:20]
        target.updated_at = when
        target.save(update_fields=["tags", "updated_at"])
        was_done = source.status in DONE_STATUSES
        sla.on_status(source, new_status=Status.CLOSED, timer=sla.clock_for(source), now=when)
        source.closed_at = when
        source.merged_into = target
        source.queued_at = None
        source.updated_at = when
        source.save(
            update_fields=sorted({*sla.TIMER_FIELDS, "merged_into", "queued_at", "updated_at"})
        )
        sla_alarm(source)
        timeline.activity_log(
            kind=ENTRY_MERGED.code,
            author=actor.user,
            concerns=_concerns(target),
            subject=target.subject,
            body=_("#%(source)s merged into #%(target)s")
            % {"source": source.pk, "target": target.pk},
            occurred_at=when,
            data={"ticket": target.pk, "merged": source.pk, "messages": moved},
        )
        for record, data in ((source, {"into": target.pk}), (target, {"from": source.pk})):
            audit_record(
                tenant=actor.tenant, actor=actor.user, action=TICKET_MERGED, target=record,
                data=data,
            )  # fmt: skip
        if not was_done:
            _room_freed(actor.tenant, source.assignee_id)
        for record in (source, target):
            live.publish(
                tenant=actor.tenant,
                topic=TICKETS_TOPIC,
                event="ticket.updated",
                payload={"id": record.pk, "status": record.status},
            )
    return target


def ticket_split(
    *, actor: Membership, ticket: Ticket, message_id: Any, now: datetime.datetime | None = None
) -> Ticket:
    """Make a new ticket of one customer message (a second question in the same mail): the
    message moves to the new ticket, which is routed like any new ticket."""
    require(actor, WORK_TICKETS, ticket)
    try:
        number = int(message_id)
    except (TypeError, ValueError):
        number = 0
    when = now or timezone.now()
    with transaction.atomic():
        source = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("contact", "company")
            .get(pk=ticket.pk)
        )
        message = TicketMessage.objects.filter(ticket=source, pk=number).first()
        if message is None:
            raise ServiceError(_("Choose a message of this ticket."), field="message")
        if message.kind != TicketMessage.Kind.REPLY:
            raise ServiceError(
                _("Only a message to or from the customer can become a ticket."), field="message"
            )
        if source.status == Status.CLOSED:
            raise ServiceError(_("A closed ticket cannot be split."), field="message")
        first_line = message.body.strip().splitlines()[0] if message.body.strip() else ""
        subject = (first_line or source.subject)[:200]
        new = ticket_create(
            actor=actor,
            subject=subject,
            description="",
            priority=source.priority,
            ticket_type=source.type,
            channel=source.channel,
            contact_id=source.contact_id,
            company_id=source.company_id,
            language=source.language,
            now=when,
        )
        TicketMessage.objects.filter(pk=message.pk).update(ticket=new)
        timeline.activity_log(
            kind=ENTRY_SPLIT.code,
            author=actor.user,
            concerns=_concerns(source),
            subject=source.subject,
            body=_("A message of #%(source)s became #%(new)s")
            % {"source": source.pk, "new": new.pk},
            occurred_at=when,
            data={"ticket": source.pk, "new": new.pk, "message": message.pk},
        )
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=TICKET_SPLIT, target=source,
            data={"new": new.pk, "message": message.pk},
        )  # fmt: skip
    return new
