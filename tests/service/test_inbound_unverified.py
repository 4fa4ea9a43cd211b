"""Spoofed senders (ADR 0068): mail whose From domain fails DMARC (or, without DMARC, SPF and
DKIM) by our receiving host's Authentication-Results header or SES's verdicts is not threaded
into the named contact's ticket nor matched to the contact: it opens a ticket of its own,
marked unverified (a warning on the ticket page, translated) and is not answered
automatically. A header another host wrote is not trusted. Real PostgreSQL, Celery eager."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from crm_modules.sales.models import Contact
from crm_modules.service import services
from crm_modules.service.models import InboundMessage, OutboundEmail, Ticket, TicketMessage
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import ContactFactory
from tests.service.conftest import fresh
from tests.service.test_inbound import email
from tests.service.test_inbound_webhook import received

SPOOFED = (
    "mx.rapport.test;\r\n"
    "       spf=softfail (mx.rapport.test: domain of transitioning ceo@bank.example does"
    " not designate 198.51.100.7 as permitted sender) smtp.mailfrom=ceo@bank.example;\r\n"
    "       dmarc=fail (p=REJECT sp=REJECT dis=QUARANTINE) header.from=bank.example"
)
GENUINE = (
    "mx.rapport.test;\r\n       dkim=pass header.i=@bank.example header.s=s1;\r\n"
    "       spf=pass smtp.mailfrom=ceo@bank.example;\r\n"
    "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=bank.example"
)


def _with_results(value: str, raw: bytes) -> bytes:
    """The receiving host's header on top of the message, folded as the host wrote it."""
    return f"Authentication-Results: {value}\r\n".encode() + raw


@pytest.fixture(autouse=True)
def _our_host(settings: Any) -> None:
    settings.INBOUND_AUTHSERV_IDS = ["mx.rapport.test"]


def _customer_with_a_ticket(alpha: Workspace) -> tuple[Contact, Ticket]:
    contact = ContactFactory.create(primary_email="ceo@bank.example", first_name="Anna")
    contact.emails.create(email="ceo@bank.example", is_primary=True)
    ticket = services.ticket_create(
        actor=fresh(alpha.owner), subject="Invoice", contact_id=contact.pk
    )
    return contact, ticket


@pytest.mark.usefixtures("in_alpha")
def test_a_spoofed_reply_opens_an_unverified_ticket_of_its_own(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _contact, existing = _customer_with_a_ticket(alpha)
    contacts = Contact.objects.count()
    raw = email(
        sender="CEO <ceo@bank.example>",
        subject=f"Re: Invoice [#{existing.pk}]",
        body="Please change the bank account for the payment.",
        message_id="<spoof-1@evil.example>",
    )
    raw = _with_results(SPOOFED, raw)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        inbound, _created = services_receive(raw)
    inbound.refresh_from_db()

    ticket = Ticket.objects.exclude(pk=existing.pk).get()
    assert inbound.ticket_id == ticket.pk
    assert (ticket.contact_id, ticket.company_id) == (None, None)
    assert ticket.unverified_sender == "ceo@bank.example"
    assert list(ticket.messages.values_list("body", flat=True)) == [
        "Please change the bank account for the payment."
    ]
    # Nothing reached the named customer's ticket or identity, and nothing was answered.
    assert not TicketMessage.objects.filter(ticket=existing, direction="inbound").exists()
    assert Contact.objects.count() == contacts
    assert not OutboundEmail.objects.filter(ticket=ticket).exists()
    assert mail.outbox == []
    assert inbound.authentication["verdict"] == "fail"
    assert inbound.authentication["checks"] == "dmarc=fail spf=softfail dkim=none"
    assert "could not be verified" in inbound.reason


@pytest.mark.usefixtures("in_alpha")
def test_a_verified_reply_threads_as_before(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    _contact, existing = _customer_with_a_ticket(alpha)
    raw = email(
        sender="CEO <ceo@bank.example>",
        subject=f"Re: Invoice [#{existing.pk}]",
        body="Thanks!",
        message_id="<genuine-1@bank.example>",
    )
    raw = _with_results(GENUINE, raw)
    with django_capture_on_commit_callbacks(execute=True):
        inbound, _created = services_receive(raw)
    inbound.refresh_from_db()
    assert inbound.ticket_id == existing.pk
    assert Ticket.objects.count() == 1
    assert inbound.authentication["verdict"] == "pass"


@pytest.mark.usefixtures("in_alpha")
def test_a_failing_header_of_another_host_is_not_trusted(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    """The sender (or a host on the way) wrote the header: it proves nothing either way."""
    _contact, existing = _customer_with_a_ticket(alpha)
    raw = email(
        sender="CEO <ceo@bank.example>",
        subject=f"Re: Invoice [#{existing.pk}]",
        message_id="<other-host@bank.example>",
    )
    raw = _with_results(SPOOFED.replace("mx.rapport.test", "mx.other.test"), raw)
    with django_capture_on_commit_callbacks(execute=True):
        inbound, _created = services_receive(raw)
    inbound.refresh_from_db()
    assert inbound.ticket_id == existing.pk
    assert Ticket.objects.get(pk=existing.pk).unverified_sender == ""
    assert inbound.authentication == {}


def services_receive(raw: bytes) -> tuple[InboundMessage, bool]:
    from crm_modules.service.services.inbound import inbound_receive

    return inbound_receive(raw=raw, source="smtp", recipient="support@alpha.in.localhost")


def test_ses_verdicts_on_the_webhook_mark_the_sender_unverified(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    with schema_context(alpha.tenant.schema_name):
        _contact, existing = _customer_with_a_ticket(alpha)
    raw = email(
        sender="CEO <ceo@bank.example>",
        subject=f"Re: Invoice [#{existing.pk}]",
        message_id="<ses-spoof@evil.example>",
    )
    notification = {
        "notificationType": "Received",
        "mail": {"destination": ["support@alpha.in.localhost"]},
        "receipt": {
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "spfVerdict": {"status": "FAIL"},
            "dkimVerdict": {"status": "GRAY"},
            "dmarcVerdict": {"status": "FAIL"},
            "dmarcPolicy": "reject",
        },
        "content": base64.b64encode(raw).decode(),
    }
    mail.outbox.clear()
    response = received(
        alpha,
        django_capture_on_commit_callbacks,
        json.dumps(notification).encode(),
        content_type="application/json",
    )
    assert response.status_code == 202
    with schema_context(alpha.tenant.schema_name):
        ticket = Ticket.objects.exclude(pk=existing.pk).get()
        assert (ticket.contact_id, ticket.unverified_sender) == (None, "ceo@bank.example")
        inbound = InboundMessage.objects.get()
        assert inbound.authentication["source"] == "ses"
        assert inbound.authentication["verdict"] == "fail"
        assert not OutboundEmail.objects.filter(ticket=ticket).exists()
    assert mail.outbox == []


@pytest.mark.usefixtures("in_alpha")
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "Unverified sender"),
        ("ru", "Отправитель не подтверждён"),
        ("it", "Mittente non verificato"),
        ("th", "ผู้ส่งที่ยังไม่ได้รับการยืนยัน"),
        ("zh-hans", "发件人未经验证"),
    ],
)
def test_the_ticket_page_warns_of_an_unverified_sender(
    alpha: Workspace, language: str, words: str
) -> None:
    ticket = Ticket.objects.create(
        subject="Urgent", channel="email", unverified_sender="ceo@bank.example"
    )
    plain = Ticket.objects.create(subject="Fine", channel="email")
    owner = alpha.owner.user
    owner.language = language
    owner.save(update_fields=["language"])
    client: Client = workspace_client(owner, alpha.tenant)
    page = client.get(f"/service/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="unverified-sender"' in html
    assert words in html
    assert "ceo@bank.example" in html
    other = client.get(f"/service/{plain.pk}/").content.decode()
    assert 'data-testid="unverified-sender"' not in other
