"""Inbound email → tickets (ADR 0036).

Receiving (``inbound_receive``) only stores the raw message under its Message-ID and queues
its processing: an SMTP server or a webhook answers as soon as the row is committed, a second
delivery of the same message changes nothing, and each message is processed by its own task,
so one bad message never holds up the others.

Processing (``inbound_process``) reads the MIME, drops mail from our own addresses, matches
the sender to a contact (creating one), threads the message into its ticket by Message-ID,
In-Reply-To and References — or by the ``[#123]`` token of one of the sender's own tickets —
and otherwise opens a ticket; attachments go to documents. A message that cannot be read is
kept as failed, with the reason, for the admins. A message whose From domain failed
authentication (ADR 0068) is none of that: it opens a ticket of its own marked as from an
unverified sender, with no contact and no automatic answer.
"""

from __future__ import annotations

import datetime
import logging
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from crm_modules.documents import api as documents
from crm_modules.sales import api as sales
from crm_modules.service.mail import authentication
from crm_modules.service.mail.addresses import is_own_address
from crm_modules.service.mail.loops import automatic_reason
from crm_modules.service.mail.parsing import (
    MalformedEmail,
    ParsedEmail,
    message_id_of,
    parse_email,
    read_headers,
)
from crm_modules.service.models import (
    InboundMessage,
    OutboundEmail,
    Status,
    Ticket,
    TicketChannel,
)
from crm_modules.service.services import outbound
from crm_modules.service.services.customer import ticket_customer_message, ticket_open_for_contact
from crm_modules.service.services.tickets import ticket_survivor
from crm_platform.errors import ServiceError
from tenants.models import Tenant

logger = logging.getLogger(__name__)

TICKET_ATTACHABLE = "service.ticket"
# A solved ticket is reopened by mail at most this often; later messages are kept on it
# without reopening (a customer's auto-responder answering each "solved" mail).
REOPEN_LIMIT = 3
REOPEN_WINDOW = datetime.timedelta(hours=1)
TOKEN = re.compile(r"\[#(\d{1,12})\]")
MAX_THREAD_IDS = 50


class MessageTooLarge(ServiceError):
    def __init__(self, size: int):
        super().__init__(
            _("The message is %(size)s; messages may be at most %(limit)s.")
            % {
                "size": filesizeformat(size),
                "limit": filesizeformat(settings.INBOUND_EMAIL_MAX_BYTES),
            },
            field="message",
            code="too_large",
        )


def inbound_receive(
    *,
    raw: bytes,
    source: str,
    recipient: str = "",
    authentication: dict[str, Any] | None = None,
) -> tuple[InboundMessage, bool]:
    """Store a received message in the current workspace's schema and queue its processing.
    ``authentication``: what the receiving service checked of the sender, when it says so
    outside the message (SES's verdicts). Returns the row and whether it is new (False: this
    Message-ID was received before)."""
    if len(raw) > settings.INBOUND_EMAIL_MAX_BYTES:
        raise MessageTooLarge(len(raw))
    message_id = message_id_of(raw)
    existing = InboundMessage.objects.filter(message_id=message_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                message_id=message_id,
                source=source,
                raw=raw,
                size=len(raw),
                recipient=recipient[:254],
                authentication=authentication or {},
            )
            schema = connection.schema_name  # type: ignore[attr-defined]
            transaction.on_commit(lambda: _process_later(schema, inbound.pk))
    except IntegrityError:
        # The same message delivered twice at once: the other delivery stored it.
        return InboundMessage.objects.get(message_id=message_id), False
    return inbound, True


def _process_later(schema_name: str, inbound_id: int) -> None:
    from crm_modules.service.tasks import process_inbound_email

    # The task runs in the schema current when it is sent; after commit that may no longer
    # be the workspace's (a webhook answered from the public host).
    with schema_context(schema_name):
        process_inbound_email.delay(inbound_id=inbound_id)


def current_tenant() -> Tenant:
    """The workspace whose schema is active (a Celery task carries only the schema name):
    the connection's own tenant when it is the workspace's row, else read by schema."""
    schema: str = connection.schema_name  # type: ignore[attr-defined]
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant) and tenant.pk is not None and tenant.schema_name == schema:
        return tenant
    return Tenant.objects.get(schema_name=schema)


def _thread_ticket(parsed: ParsedEmail, contact: Any) -> Ticket | None:
    """The ticket this message answers: by the message ids of the thread (ours or the
    customer's, nearest ancestor first), else by a ``[#id]`` token in the subject or the
    text, only among the sender's own tickets. A ticket merged into another answers with the
    one that carries on (a reply to a merged ticket lands on the survivor)."""
    ids = parsed.thread_ids[:MAX_THREAD_IDS]
    if ids:
        # One round trip for both directions; our own message ids win over the customer's.
        received = InboundMessage.objects.filter(
            message_id__in=ids, ticket__isnull=False
        ).values_list("message_id", "ticket_id", Value(0))
        sent = OutboundEmail.objects.filter(message_id__in=ids).values_list(
            "message_id", "ticket_id", Value(1)
        )
        found: dict[str, int] = {
            message_id: ticket_id
            for message_id, ticket_id, _ours in sorted(received.union(sent, all=True), key=_ours)
        }
        for message_id in ids:
            if message_id in found:
                threaded = Ticket.objects.filter(pk=found[message_id]).first()
                return ticket_survivor(threaded) if threaded is not None else None
    for text in (parsed.subject, parsed.text[:20_000]):
        for match in TOKEN.finditer(text):
            ticket = Ticket.objects.filter(pk=int(match.group(1)), contact=contact).first()
            if ticket is not None:
                return ticket_survivor(ticket)
    return None


def _ours(row: tuple[str, int, int]) -> int:
    return row[2]


def _may_reopen(ticket: Ticket, now: datetime.datetime) -> bool:
    return (
        InboundMessage.objects.filter(
            ticket=ticket, reopened=True, received_at__gte=now - REOPEN_WINDOW
        ).count()
        < REOPEN_LIMIT
    )


def _store_attachments(
    *, tenant: Tenant, parsed: ParsedEmail, ticket: Ticket
) -> tuple[list[dict[str, Any]], list[str]]:
    stored: list[dict[str, Any]] = []
    problems: list[str] = []
    for attachment in parsed.attachments:
        try:
            with transaction.atomic():
                document = documents.document_store(
                    tenant=tenant,
                    name=attachment.name,
                    content_type=attachment.content_type,
                    data=attachment.data,
                    record_type=TICKET_ATTACHABLE,
                    record_id=ticket.pk,
                )
        except ServiceError as exc:
            stored.append({"name": attachment.name, "error": exc.message})
            problems.append(f"{attachment.name}: {exc.message}")
            continue
        stored.append({"name": attachment.name, "document": document.pk})
    return stored, problems


def _fail(inbound: InboundMessage, status: str, reason: str, now: datetime.datetime) -> str:
    inbound.status, inbound.reason, inbound.processed_at = status, reason[:2000], now
    inbound.save(
        update_fields=["status", "reason", "processed_at", "sender", "subject", "authentication"]
    )
    return status


def inbound_process(*, inbound_id: int, now: datetime.datetime | None = None) -> str:
    """Turn one received message into a ticket or a reply on one; returns the new status
    ("" when it was already processed). Runs in the workspace's schema."""
    tenant = current_tenant()
    when = now or timezone.now()
    with transaction.atomic():
        inbound = (
            InboundMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=inbound_id, status=InboundMessage.Status.RECEIVED)
            .first()
        )
        if inbound is None:
            return ""
        try:
            parsed = parse_email(bytes(inbound.raw))
        except MalformedEmail as exc:
            return _fail(inbound, InboundMessage.Status.FAILED, str(exc), when)
        inbound.sender = parsed.sender[:254]
        inbound.subject = parsed.subject[:200]
        if is_own_address(parsed.sender):
            return _fail(
                inbound,
                InboundMessage.Status.IGNORED,
                "Sent from one of our own addresses (a mail loop).",
                when,
            )
        if _sender_unverified(inbound, parsed):
            return _ticket_unverified(tenant=tenant, inbound=inbound, parsed=parsed, now=when)
        try:
            contact = sales.contact_for_email(
                tenant=tenant, email=parsed.sender, name=parsed.sender_name, source="email"
            )
        except ServiceError as exc:
            return _fail(inbound, InboundMessage.Status.FAILED, exc.message, when)
        automatic = automatic_reason(parsed)
        ticket = _thread_ticket(parsed, contact)
        reopened = False
        if ticket is not None and ticket.status != Status.CLOSED:
            # Only a solved ticket is reopened: the rate limit is read for those alone.
            may_reopen = (
                not automatic and ticket.status == Status.SOLVED and _may_reopen(ticket, when)
            )
            ticket, message, reopened = ticket_customer_message(
                tenant=tenant,
                ticket=ticket,
                body=parsed.text,
                now=when,
                wake=not automatic,
                reopen=may_reopen,
                sender=contact,
            )
            if ticket.status == Status.SOLVED and not may_reopen:
                inbound.reason = (
                    "Automatic mail does not reopen a ticket."
                    if automatic
                    else "Reopened by mail too often; kept on the solved ticket."
                )
            new_ticket = False
        else:
            follow_up = {"follows": ticket.pk} if ticket is not None else {}
            ticket, message = ticket_open_for_contact(
                tenant=tenant,
                contact=contact,
                subject=parsed.subject,
                body=parsed.text,
                channel=TicketChannel.EMAIL,
                now=when,
                data=follow_up,
            )
            new_ticket = True
        _ticketed(
            tenant=tenant,
            inbound=inbound,
            parsed=parsed,
            ticket=ticket,
            message=message,
            now=when,
            automatic=bool(automatic),
            reopened=reopened,
        )
        if new_ticket and not automatic:
            # The thread of a new ticket is this message alone: no need to look it up.
            outbound.email_queue(
                tenant=tenant,
                ticket=ticket,
                body=outbound.acknowledgement_text(ticket),
                automatic=True,
                now=when,
                parent=(inbound.message_id, inbound.references),
            )
    return InboundMessage.Status.TICKETED


def _ticketed(
    *,
    tenant: Tenant,
    inbound: InboundMessage,
    parsed: ParsedEmail,
    ticket: Ticket,
    message: Any,
    now: datetime.datetime,
    automatic: bool,
    reopened: bool,
) -> None:
    stored, problems = _store_attachments(tenant=tenant, parsed=parsed, ticket=ticket)
    if problems:
        # Nothing is lost: the raw message stays for the admins when a file was refused.
        inbound.reason = "\n".join([inbound.reason, *problems]).strip()
    inbound.status = InboundMessage.Status.TICKETED
    inbound.processed_at = now
    inbound.references = " ".join([*parsed.references, parsed.in_reply_to]).strip()
    if parsed.in_reply_to in parsed.references:
        inbound.references = " ".join(parsed.references)
    inbound.automatic = automatic
    inbound.body_html = parsed.html
    inbound.attachments = stored
    inbound.ticket = ticket
    inbound.ticket_message = message
    inbound.reopened = reopened
    if not problems:
        inbound.raw = b""
    inbound.save()


def _sender_unverified(inbound: InboundMessage, parsed: ParsedEmail) -> bool:
    """Whether the From domain failed authentication (ADR 0068): by SES's verdicts when the
    webhook brought them, else by the Authentication-Results header of one of our receiving
    hosts. The verdict and its checks are kept on the row for the admins."""
    received = inbound.authentication or {}
    if received.get("source") == "ses":
        checks = authentication.ses_checks(received.get("receipt"))
        source, host = "ses", ""
    else:
        results = authentication.trusted_results(
            read_headers(bytes(inbound.raw)), settings.INBOUND_AUTHSERV_IDS
        )
        if results is None:
            return False
        checks, source, host = results.checks, "header", results.authserv_id
    domain = parsed.sender.rsplit("@", 1)[-1] if "@" in parsed.sender else ""
    verdict = authentication.sender_verdict(checks, domain)
    inbound.authentication = {
        **received,
        "source": source,
        "authserv_id": host,
        "verdict": verdict,
        "checks": authentication.failed_summary(checks),
    }
    return verdict == authentication.FAIL


def _ticket_unverified(
    *, tenant: Tenant, inbound: InboundMessage, parsed: ParsedEmail, now: datetime.datetime
) -> str:
    """A message whose sender failed authentication opens a ticket of its own, marked, with
    no contact: it is not threaded into a ticket (its references or token may be forged),
    not matched to the contact its From names, and not answered automatically (an answer
    would go to the person being impersonated)."""
    ticket, message = ticket_open_for_contact(
        tenant=tenant,
        contact=None,
        subject=parsed.subject,
        body=parsed.text,
        channel=TicketChannel.EMAIL,
        now=now,
        unverified_sender=parsed.sender,
    )
    inbound.reason = (
        f"The sender could not be verified ({inbound.authentication.get('checks', '')}): "
        "kept on a ticket of its own, with no contact and no automatic answer."
    )
    _ticketed(
        tenant=tenant,
        inbound=inbound,
        parsed=parsed,
        ticket=ticket,
        message=message,
        now=now,
        automatic=bool(automatic_reason(parsed)),
        reopened=False,
    )
    return InboundMessage.Status.TICKETED
