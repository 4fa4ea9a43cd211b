"""Email to a ticket's contact (ADR 0036): an agent's public reply and the automatic
acknowledgement of a new ticket.

Queued as an ``OutboundEmail`` row in the writer's transaction and sent by Celery after commit.
Each message carries our own Message-ID (stored, so the customer's answer threads back),
``In-Reply-To`` the newest message of the thread and ``References`` that message's References
plus its Message-ID; automatic mail is marked ``Auto-Submitted: auto-replied`` (RFC 3834).
Before sending, marketing's contact-pressure rule is asked (``may_contact``); after sending,
the contact is recorded (``record_contact``).
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from crm_modules.marketing import api as marketing
from crm_modules.sales.api import Contact
from crm_modules.service.mail.addresses import workspace_address
from crm_modules.service.models import InboundMessage, OutboundEmail, Ticket, TicketMessage
from tenants.models import Tenant

# At most one automatic mail to an address in this window: two auto-responders that slip
# past the headers still exchange one message each, not a storm.
AUTO_REPLY_WINDOW = datetime.timedelta(minutes=10)
MAX_REFERENCES = 20


def subject_with_token(ticket: Ticket) -> str:
    token = f"[#{ticket.pk}]"
    subject = ticket.subject
    return subject if token in subject else f"{subject} {token}"


def _thread_parent(ticket: Ticket) -> tuple[str, str]:
    """(Message-ID, References) of the newest email of the ticket's thread, either way."""
    inbound = (
        InboundMessage.objects.filter(ticket=ticket, status=InboundMessage.Status.TICKETED)
        .order_by("-received_at", "-id")
        .values_list("received_at", "message_id", "references")
        .first()
    )
    outbound = (
        OutboundEmail.objects.filter(ticket=ticket)
        .order_by("-created_at", "-id")
        .values_list("created_at", "message_id", "references")
        .first()
    )
    candidates = [c for c in (inbound, outbound) if c is not None]
    if not candidates:
        return "", ""
    _when, message_id, references = max(candidates, key=lambda c: c[0])
    return message_id, references


def _new_message_id(tenant: Tenant, ticket: Ticket) -> str:
    domain = workspace_address(tenant).partition("@")[2]
    return f"<ticket-{ticket.pk}.{uuid.uuid4().hex}@{domain}>"


def email_queue(
    *,
    tenant: Tenant,
    ticket: Ticket,
    body: str,
    automatic: bool,
    message: TicketMessage | None = None,
    now: datetime.datetime | None = None,
    parent: tuple[str, str] | None = None,
) -> OutboundEmail | None:
    """Queue an email to the ticket's contact (inside the caller's transaction); None when the
    contact has no address, or for automatic mail when one went to that address lately.
    ``parent`` is the (Message-ID, References) answered, when the caller knows it is the
    newest of the thread; else it is looked up."""
    contact = ticket.contact
    address = contact.primary_email if contact is not None else ""
    if not address:
        return None
    when = now or timezone.now()
    if (
        automatic
        and OutboundEmail.objects.filter(
            to_address=address, automatic=True, created_at__gte=when - AUTO_REPLY_WINDOW
        ).exists()
    ):
        return None
    parent_id, parent_references = parent if parent is not None else _thread_parent(ticket)
    references = " ".join([*parent_references.split(), parent_id][-MAX_REFERENCES:]).strip()
    email = OutboundEmail.objects.create(
        ticket=ticket,
        ticket_message=message,
        message_id=_new_message_id(tenant, ticket),
        in_reply_to=parent_id,
        references=references,
        to_address=address,
        subject=subject_with_token(ticket)[:250],
        automatic=automatic,
        created_at=when,
    )
    email_body, schema = body, connection.schema_name  # type: ignore[attr-defined]
    transaction.on_commit(lambda: _send_later(schema, email.pk, email_body))
    return email


def _send_later(schema_name: str, email_id: int, body: str) -> None:
    from crm_modules.service.tasks import send_ticket_email

    with schema_context(schema_name):
        send_ticket_email.delay(email_id=email_id, body=body)


def customer_language(contact: Contact | None) -> str:
    """The language mail to ``contact`` is written in: theirs, else the product's default."""
    return (contact.language if contact is not None else "") or settings.LANGUAGE_CODE


def acknowledgement_text(ticket: Ticket) -> str:
    with translation.override(customer_language(ticket.contact)):
        return _(
            "We received your message and opened ticket #%(number)s: %(subject)s\n\n"
            "Reply to this email to add to it; keep [#%(number)s] in the subject."
        ) % {"number": ticket.pk, "subject": ticket.subject}


def email_send(*, email_id: int, body: str) -> str:
    """Send a queued email once; returns its status. Runs in the workspace's schema."""
    from crm_modules.service.services.inbound import current_tenant

    tenant = current_tenant()
    with transaction.atomic():
        email = (
            OutboundEmail.objects.select_for_update(of=("self",))
            .select_related("ticket__contact")
            .filter(pk=email_id, status=OutboundEmail.Status.QUEUED)
            .first()
        )
        if email is None:
            return ""
        contact = email.ticket.contact
        purpose = (
            marketing.Purpose.TRANSACTIONAL if email.automatic else marketing.Purpose.ONE_TO_ONE
        )
        if contact is None:
            email.status, email.reason = OutboundEmail.Status.HELD, "no contact"
            email.save(update_fields=["status", "reason"])
            return email.status
        decision = marketing.may_contact(contact, channel="email", purpose=purpose)
        if not decision.allowed:
            email.status = OutboundEmail.Status.HELD
            email.reason = decision.message or decision.reason
            email.save(update_fields=["status", "reason"])
            return email.status
        headers = {"Message-ID": email.message_id}
        if email.in_reply_to:
            headers["In-Reply-To"] = email.in_reply_to
        if email.references:
            headers["References"] = email.references
        if email.automatic:
            headers["Auto-Submitted"] = "auto-replied"
            headers["X-Auto-Response-Suppress"] = "All"
        address = workspace_address(tenant)
        message = EmailMessage(
            subject=email.subject,
            body=body,
            from_email=f"{tenant.name} <{address}>",
            to=[email.to_address],
            reply_to=[address],
            headers=headers,
        )
        try:
            get_connection(settings.EMAIL_DELIVERY_BACKEND).send_messages([message])
        except Exception as exc:
            email.status, email.reason = OutboundEmail.Status.FAILED, str(exc)[:1000]
            email.save(update_fields=["status", "reason"])
            return email.status
        email.status, email.sent_at = OutboundEmail.Status.SENT, timezone.now()
        email.save(update_fields=["status", "sent_at"])
        marketing.record_contact(
            contact, channel="email", purpose=purpose, source=f"ticket:{email.ticket_id}"
        )
    return email.status
