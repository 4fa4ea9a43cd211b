"""Tickets written by customers, with no member acting: a new ticket from an email or the web
form, and a customer's message on an existing ticket (ADR 0036).

Like the agents' services they validate first, lock the ticket, write, put the event on the
shared timeline and publish after commit; the author is the contact, so the user columns stay
empty and the audit rows have no actor. Mail and the portal both record a customer's message
through ``ticket_customer_message``, so the status rule is decided once (ADR 0044).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.translation import gettext as _

from crm_modules.activities import api as timeline
from crm_modules.sales import api as sales
from crm_modules.sales.api import Contact
from crm_modules.service import sla
from crm_modules.service.models import Status, Ticket, TicketMessage
from crm_modules.service.module import ENTRY_REPLY, ENTRY_TICKET, TICKET_CREATED, TICKETS_TOPIC
from crm_modules.service.services import routing
from crm_modules.service.services.sla_alerts import sla_alarm
from crm_modules.service.services.tickets import _concerns, _move, check_body
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants import live
from tenants.audit.services import audit_record
from tenants.models import Tenant

NO_TEXT = "…"


def _subject(raw: str) -> str:
    subject = " ".join((raw or "").split())[:200]
    try:
        return check_text(subject, field="subject", max_length=200, label=_("Subject"))
    except Exception:
        return _("(no subject)")


def _publish(tenant: Tenant, event: str, ticket: Ticket) -> None:
    live.publish(
        tenant=tenant,
        topic=TICKETS_TOPIC,
        event=event,
        payload={"id": ticket.pk, "status": ticket.status},
    )


def ticket_open_for_contact(
    *,
    tenant: Tenant,
    contact: Contact | None,
    subject: str,
    body: str,
    channel: str,
    now: datetime.datetime,
    data: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    unverified_sender: str = "",
) -> tuple[Ticket, TicketMessage]:
    """A new ticket with the customer's first message; call inside a transaction.
    ``custom``: custom-field values already checked, with their defaults (the web form's,
    ADR 0053); None (inbound mail, which has no form): each field's default (ADR 0055).
    ``contact`` None with ``unverified_sender``: mail whose sender failed authentication,
    kept away from every contact (ADR 0068)."""
    text = check_body(body or NO_TEXT, field="body", required=False) or NO_TEXT
    if custom is None:
        custom = sales.custom_defaults(entity="ticket", custom={})
    ticket = Ticket(
        subject=_subject(subject),
        description=text,
        channel=channel,
        contact=contact,
        company_id=contact.company_id if contact is not None else None,
        created_at=now,
        updated_at=now,
        status=Status.NEW,
        custom=custom,
        unverified_sender=unverified_sender[:254],
    )
    ticket.sla_policy = sla.policy_for(ticket, time_zone=tenant.time_zone)
    sla.recompute(ticket, sla.clock_for(ticket))
    ticket.save()
    # Customers' tickets follow the routing rules as agents' do (channel, keywords, tier).
    routing.route_ticket(tenant=tenant, ticket=ticket, now=now)
    sla_alarm(ticket)
    message = TicketMessage.objects.create(
        ticket=ticket,
        kind=TicketMessage.Kind.REPLY,
        direction=TicketMessage.Direction.INBOUND,
        body=text,
        created_at=now,
    )
    ticket.contact = contact
    timeline.activity_log(
        kind=ENTRY_TICKET.code,
        author=None,
        concerns=_concerns(ticket),
        subject=ticket.subject,
        body=text,
        channel=channel,
        direction="inbound",
        occurred_at=now,
        data={"ticket": ticket.pk, "message": message.pk, **(data or {})},
    )
    audit_record(tenant=tenant, actor=None, action=TICKET_CREATED, target=ticket)
    _publish(tenant, "ticket.created", ticket)
    return ticket, message


def status_after_customer_message(status: str, *, wake: bool, reopen: bool) -> str | None:
    """The one rule for a customer's message on a ticket (ADR 0044), whatever the channel:
    a ticket waiting for the customer opens again; a solved one too when ``reopen`` (the
    channel's rate limit allows it); a ticket on hold stays on hold — it waits for a third
    party, not for the customer. Nothing changes without ``wake`` (an auto-responder wrote).
    Returns the new status, or None to keep the current one."""
    if not wake:
        return None
    if status == Status.PENDING or (status == Status.SOLVED and reopen):
        return Status.OPEN
    return None


def ticket_customer_message(
    *,
    tenant: Tenant,
    ticket: Ticket,
    body: Any,
    now: datetime.datetime,
    wake: bool,
    reopen: bool,
    channel: str | None = None,
    sender: Contact | None = None,
    required: bool = False,
) -> tuple[Ticket, TicketMessage, bool]:
    """The customer wrote again on ``ticket`` (locked here), by mail or on the portal; call
    inside a transaction. The status follows ``status_after_customer_message``. A closed
    ticket takes no message (the caller opens a follow-up instead). Returns the ticket, the
    message and whether a solved ticket was reopened."""
    if required:
        text = check_body(body, field="body", required=True)
    else:
        text = check_body(body or NO_TEXT, field="body", required=False) or NO_TEXT
    locked = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("contact", "company")
        .get(pk=ticket.pk)
    )
    if locked.status == Status.CLOSED:
        raise ServiceError(
            _("This ticket is closed; open a new ticket instead."), field="body", code="closed"
        )
    message = TicketMessage.objects.create(
        ticket=locked,
        kind=TicketMessage.Kind.REPLY,
        direction=TicketMessage.Direction.INBOUND,
        body=text,
        sender_contact=sender,
        created_at=now,
    )
    fields = ["updated_at"]
    if wake:
        # After an agent's public reply, the customer now waits for the next one (ADR 0060).
        sla.on_customer_message(locked, timer=sla.clock_for(locked), now=now)
        fields += sla.TIMER_FIELDS
    reopened = False
    status = status_after_customer_message(locked.status, wake=wake, reopen=reopen)
    if status is not None:
        reopened = locked.status == Status.SOLVED
        fields += _move(locked, status, now)
    locked.updated_at = now
    locked.save(update_fields=sorted(set(fields)))
    sla_alarm(locked)
    timeline.activity_log(
        kind=ENTRY_REPLY.code,
        author=None,
        concerns=_concerns(locked),
        subject=locked.subject,
        body=text,
        channel=channel or locked.channel,
        direction="inbound",
        occurred_at=now,
        data={"ticket": locked.pk, "message": message.pk},
    )
    _publish(tenant, "ticket.replied", locked)
    return locked, message, reopened
