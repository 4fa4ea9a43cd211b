"""Inbound email → tickets: a new ticket with its contact, the acknowledgement with threading
headers, replies threaded by Message-ID / In-Reply-To / References and by the [#id] token of
the sender's own ticket, idempotency by Message-ID, reopening and its rate limit, loop safety,
malformed mail recorded for the admins, attachments through documents, agents' replies by
email. Real PostgreSQL, Celery eager, Django's locmem delivery."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from django.core import mail

from crm_modules.activities.models import Activity
from crm_modules.documents.models import Document, DocumentLink
from crm_modules.sales.models import Contact, ContactEmail
from crm_modules.service import services
from crm_modules.service.models import (
    InboundMessage,
    OutboundEmail,
    Status,
    Ticket,
    TicketMessage,
)
from crm_modules.service.services import merge
from crm_modules.service.services.inbound import REOPEN_LIMIT, inbound_receive
from tests.conftest import Workspace
from tests.sales.factories import ContactFactory
from tests.service.conftest import fresh

pytestmark = pytest.mark.usefixtures("in_alpha")


def email(
    *,
    sender: str = "Maria Rossi <maria@example.it>",
    subject: str = "Ordine in ritardo",
    body: str = "Il mio ordine non è arrivato.",
    message_id: str = "<m1@example.it>",
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = "support@alpha.in.localhost"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


@pytest.fixture
def deliver(django_capture_on_commit_callbacks: Any) -> Any:
    def run(raw: bytes) -> tuple[InboundMessage, bool]:
        with django_capture_on_commit_callbacks(execute=True):
            inbound, created = inbound_receive(raw=raw, source="smtp", recipient="x")
        inbound.refresh_from_db()
        return inbound, created

    mail.outbox.clear()
    return run


def sent_headers(index: int = -1) -> Any:
    return message_from_bytes(mail.outbox[index].message().as_bytes(), policy=policy.default)


def test_a_new_email_opens_a_ticket_with_a_new_contact_and_is_acknowledged(deliver: Any) -> None:
    inbound, created = deliver(email())

    assert created is True
    assert inbound.status == InboundMessage.Status.TICKETED
    assert bytes(inbound.raw) == b""
    ticket = Ticket.objects.get()
    assert inbound.ticket_id == ticket.pk
    assert (ticket.subject, ticket.channel, ticket.status) == ("Ordine in ritardo", "email", "new")
    contact = Contact.objects.get(primary_email="maria@example.it")
    assert (contact.first_name, contact.last_name, contact.source) == ("Maria", "Rossi", "email")
    assert ticket.contact_id == contact.pk
    assert list(ticket.messages.values_list("direction", "body")) == [
        ("inbound", "Il mio ordine non è arrivato.")
    ]
    assert Activity.objects.filter(kind="ticket", data__ticket=ticket.pk).count() == 1
    # The acknowledgement: automatic, threaded under the customer's message, with our id.
    assert len(mail.outbox) == 1
    ack = sent_headers()
    outbound = OutboundEmail.objects.get()
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<m1@example.it>"
    assert ack["References"] == "<m1@example.it>"
    assert ack["Message-ID"] == outbound.message_id
    assert outbound.message_id.endswith("@alpha.in.localhost>")
    assert ack["To"] == "maria@example.it"
    assert ack["Subject"] == f"Ordine in ritardo [#{ticket.pk}]"
    assert "support@alpha.in.localhost" in ack["From"]
    assert outbound.status == OutboundEmail.Status.SENT


def test_the_same_message_received_twice_makes_one_ticket(deliver: Any) -> None:
    deliver(email())
    _again, created = deliver(email())

    assert created is False
    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.count() == 1
    assert TicketMessage.objects.count() == 1
    assert len(mail.outbox) == 1


def test_an_existing_contact_is_matched_by_any_of_their_addresses(
    deliver: Any, alpha: Workspace
) -> None:
    contact = ContactFactory.create(first_name="Olga", primary_email="olga@work.example")
    ContactEmail.objects.create(contact=contact, email="olga@work.example", is_primary=True)
    ContactEmail.objects.create(contact=contact, email="olga@example.ru")

    deliver(email(sender="Someone Else <OLGA@example.ru>"))

    assert Ticket.objects.get().contact_id == contact.pk
    assert Contact.objects.count() == 1


def test_a_reply_to_our_acknowledgement_threads_into_the_ticket(deliver: Any) -> None:
    deliver(email())
    ticket = Ticket.objects.get()
    ours = OutboundEmail.objects.get().message_id

    inbound, _ = deliver(
        email(
            subject="Re: Ordine in ritardo",
            body="Ecco il numero: 42",
            message_id="<m2@example.it>",
            headers={"In-Reply-To": ours, "References": f"<m1@example.it> {ours}"},
        )
    )

    assert Ticket.objects.count() == 1
    assert inbound.ticket_id == ticket.pk
    assert list(ticket.messages.order_by("id").values_list("body", flat=True)) == [
        "Il mio ordine non è arrivato.",
        "Ecco il numero: 42",
    ]
    assert inbound.references == f"<m1@example.it> {ours}"
    # No second acknowledgement for a reply.
    assert len(mail.outbox) == 1


def test_a_reply_by_references_alone_threads_into_the_ticket(deliver: Any) -> None:
    deliver(email())
    ticket = Ticket.objects.get()

    deliver(email(message_id="<m3@example.it>", headers={"References": "<m1@example.it>"}))

    assert Ticket.objects.count() == 1
    assert ticket.messages.count() == 2


def test_the_token_threads_only_into_the_senders_own_ticket(deliver: Any) -> None:
    deliver(email())
    ticket = Ticket.objects.get()

    deliver(email(subject=f"Again [#{ticket.pk}]", message_id="<m4@example.it>"))
    assert Ticket.objects.count() == 1
    assert ticket.messages.count() == 2

    # Someone else quoting the number gets a ticket of their own.
    deliver(
        email(
            sender="intruder@example.com",
            subject=f"Re: [#{ticket.pk}] give me the data",
            message_id="<x1@example.com>",
        )
    )
    assert Ticket.objects.count() == 2
    assert ticket.messages.count() == 2


def test_a_customer_answer_reopens_a_solved_ticket_but_not_without_limit(
    deliver: Any, alpha: Workspace
) -> None:
    deliver(email())
    ticket = Ticket.objects.get()
    agent = fresh(alpha.owner)

    for number in range(REOPEN_LIMIT + 1):
        services.ticket_change_status(actor=agent, ticket=ticket, status=Status.SOLVED)
        inbound, _ = deliver(
            email(
                message_id=f"<again-{number}@example.it>",
                headers={"In-Reply-To": "<m1@example.it>"},
            )
        )
        ticket.refresh_from_db()
        if number < REOPEN_LIMIT:
            assert ticket.status == Status.OPEN
            assert inbound.reopened is True
        else:
            assert ticket.status == Status.SOLVED
            assert inbound.reopened is False
            assert inbound.reason == "Reopened by mail too often; kept on the solved ticket."
    assert ticket.messages.count() == REOPEN_LIMIT + 2


def test_an_answer_to_a_ticket_waiting_for_the_customer_opens_it(
    deliver: Any, alpha: Workspace
) -> None:
    deliver(email())
    ticket = Ticket.objects.get()
    services.ticket_change_status(actor=fresh(alpha.owner), ticket=ticket, status=Status.PENDING)

    deliver(email(message_id="<m5@example.it>", headers={"In-Reply-To": "<m1@example.it>"}))

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.paused_since is None


def test_an_out_of_office_reply_never_reopens_and_is_never_answered(
    deliver: Any, alpha: Workspace
) -> None:
    deliver(email())
    ticket = Ticket.objects.get()
    services.ticket_change_status(actor=fresh(alpha.owner), ticket=ticket, status=Status.SOLVED)
    mail.outbox.clear()

    inbound, _ = deliver(
        email(
            subject="Out of office",
            message_id="<ooo@example.it>",
            headers={"In-Reply-To": "<m1@example.it>", "Auto-Submitted": "auto-replied"},
        )
    )

    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED
    assert inbound.automatic is True
    assert inbound.reason == "Automatic mail does not reopen a ticket."
    assert ticket.messages.count() == 2  # kept, nothing lost
    assert mail.outbox == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-generated"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"Precedence": "list"},
        {"Return-Path": "<>"},
    ],
)
def test_automatic_mail_opens_a_ticket_but_gets_no_acknowledgement(
    deliver: Any, headers: dict[str, str]
) -> None:
    inbound, _ = deliver(email(headers=headers))

    assert inbound.status == InboundMessage.Status.TICKETED
    assert Ticket.objects.count() == 1
    assert inbound.automatic is True
    assert mail.outbox == []
    assert OutboundEmail.objects.count() == 0


def test_one_automatic_mail_per_address_in_the_window(deliver: Any) -> None:
    deliver(email())
    deliver(email(subject="Another thing", message_id="<other@example.it>"))

    assert Ticket.objects.count() == 2
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "sender",
    ["Rapport <no-reply@rapport.localhost>", "support@alpha.in.localhost", "x@bravo.in.localhost"],
)
def test_mail_from_our_own_addresses_is_ignored(deliver: Any, sender: str) -> None:
    inbound, _ = deliver(email(sender=sender))

    assert inbound.status == InboundMessage.Status.IGNORED
    assert inbound.reason == "Sent from one of our own addresses (a mail loop)."
    assert Ticket.objects.count() == 0
    assert Contact.objects.count() == 0
    assert mail.outbox == []


def test_malformed_mail_is_kept_as_failed_with_the_reason(deliver: Any) -> None:
    raw = b"Subject: no sender\r\nMessage-ID: <bad@x>\r\n\r\nbody"

    inbound, created = deliver(raw)

    assert created is True
    assert inbound.status == InboundMessage.Status.FAILED
    assert inbound.reason == "The message has no sender address (From)."
    assert bytes(inbound.raw) == raw
    assert Ticket.objects.count() == 0
    assert Contact.objects.count() == 0


def test_one_bad_message_does_not_stop_the_next(deliver: Any) -> None:
    deliver(b"Subject: no sender\r\nMessage-ID: <bad@x>\r\n\r\nbody")
    good, _ = deliver(email())

    assert good.status == InboundMessage.Status.TICKETED
    assert Ticket.objects.count() == 1


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(deliver: Any, alpha: Workspace) -> None:
    deliver(email())
    first = Ticket.objects.get()
    services.ticket_change_status(actor=fresh(alpha.owner), ticket=first, status=Status.CLOSED)

    inbound, _ = deliver(
        email(message_id="<late@example.it>", headers={"In-Reply-To": "<m1@example.it>"})
    )

    assert Ticket.objects.count() == 2
    follow_up = Ticket.objects.exclude(pk=first.pk).get()
    assert inbound.ticket_id == follow_up.pk
    assert Activity.objects.get(kind="ticket", data__ticket=follow_up.pk).data["follows"] == (
        first.pk
    )


def test_a_reply_to_a_merged_ticket_lands_on_the_ticket_it_was_merged_into(
    deliver: Any, alpha: Workspace
) -> None:
    deliver(email())
    merged = Ticket.objects.get()
    deliver(email(subject="Second question", message_id="<other@example.it>"))
    survivor = Ticket.objects.exclude(pk=merged.pk).get()
    merge.ticket_merge(actor=fresh(alpha.owner), ticket=merged, into_id=str(survivor.pk))

    by_header, _ = deliver(
        email(
            message_id="<m3@example.it>",
            body="Any news?",
            headers={"In-Reply-To": "<m1@example.it>"},
        )
    )
    by_token, _ = deliver(
        email(message_id="<m4@example.it>", subject=f"Re: [#{merged.pk}] Ordine", body="Hello?")
    )

    assert Ticket.objects.count() == 2
    assert (by_header.ticket_id, by_token.ticket_id) == (survivor.pk, survivor.pk)
    assert list(survivor.messages.order_by("id").values_list("body", flat=True))[-2:] == [
        "Any news?",
        "Hello?",
    ]


def test_oversized_message_is_refused_and_nothing_is_stored(settings: Any) -> None:
    settings.INBOUND_EMAIL_MAX_BYTES = 1000
    from crm_modules.service.services.inbound import MessageTooLarge

    with pytest.raises(MessageTooLarge) as caught:
        inbound_receive(raw=email(body="x" * 2000), source="smtp")

    assert caught.value.code == "too_large"
    assert InboundMessage.objects.count() == 0


def test_an_agents_public_reply_is_emailed_with_threading_headers(
    deliver: Any, alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    deliver(email())
    ticket = Ticket.objects.get()
    ack = OutboundEmail.objects.get()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        message = services.ticket_reply(
            actor=fresh(alpha.owner), ticket=ticket, body="Lo spediamo oggi."
        )
        services.ticket_reply(
            actor=fresh(alpha.owner), ticket=ticket, body="Solo per noi", public=False
        )

    assert len(mail.outbox) == 1
    sent = sent_headers()
    reply = OutboundEmail.objects.get(ticket_message=message)
    # The parent is our acknowledgement (the newest email of the thread).
    assert sent["In-Reply-To"] == ack.message_id
    assert sent["References"] == f"<m1@example.it> {ack.message_id}"
    assert sent["Message-ID"] == reply.message_id
    assert sent["Auto-Submitted"] is None
    assert mail.outbox[0].body == "Lo spediamo oggi."
    assert reply.status == OutboundEmail.Status.SENT


def test_a_ticket_without_a_contact_address_sends_nothing(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    ticket = services.ticket_create(actor=fresh(alpha.owner), subject="Phone call", channel="phone")

    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(actor=fresh(alpha.owner), ticket=ticket, body="Called back")

    assert ticket.channel == "phone"
    assert mail.outbox == []
    assert OutboundEmail.objects.count() == 0


def test_attachments_are_stored_as_documents_of_the_ticket(deliver: Any, s3_bucket: str) -> None:
    message = EmailMessage()
    message["From"] = "maria@example.it"
    message["Subject"] = "Fattura"
    message["Message-ID"] = "<att@example.it>"
    message.set_content("In allegato")
    message.add_attachment(
        b"%PDF-1.4\n%%EOF\n", maintype="application", subtype="pdf", filename="fattura.pdf"
    )

    inbound, _ = deliver(message.as_bytes())

    ticket = Ticket.objects.get()
    document = Document.objects.get()
    assert (document.name, document.content_type, document.size) == (
        "fattura.pdf",
        "application/pdf",
        15,
    )
    assert list(DocumentLink.objects.values_list("record_type", "record_id")) == [
        ("service.ticket", ticket.pk)
    ]
    assert inbound.attachments == [{"name": "fattura.pdf", "document": document.pk}]


def test_an_auto_reply_does_not_wake_a_ticket_waiting_for_the_customer(
    deliver: Any, alpha: Workspace
) -> None:
    deliver(email())
    ticket = Ticket.objects.get()
    services.ticket_change_status(actor=fresh(alpha.owner), ticket=ticket, status=Status.PENDING)

    deliver(
        email(
            message_id="<ooo2@example.it>",
            headers={"In-Reply-To": "<m1@example.it>", "Auto-Submitted": "auto-replied"},
        )
    )

    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert ticket.messages.count() == 2
