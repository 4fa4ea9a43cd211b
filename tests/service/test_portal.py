"""The customer portal: magic-link sign-in (single use, 15 minutes, hashed, rate-limited, the
same answer for unknown addresses), the customer's own tickets (and their company's when the
workspace allows), replies, new tickets, and their own details."""

from __future__ import annotations

import datetime
import hashlib
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from crm_modules.sales.models import Contact
from crm_modules.service import services
from crm_modules.service.models import (
    PortalSession,
    PortalSettings,
    PortalSignInLink,
    Ticket,
    TicketMessage,
)
from crm_modules.service.services import portal
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace
from tests.isolation.conftest import db_state
from tests.sales.factories import CompanyFactory
from tests.service.conftest import customer, fresh, portal_client

pytestmark = pytest.mark.usefixtures("in_alpha")

LINK = re.compile(r"http://alpha\.localhost(?::\d+)?(/portal/sign-in/[^/\s]+/)")


def _ask(client: Client, email: str, **extra: Any) -> Any:
    return client.post("/portal/sign-in/", {"email": email}, **extra)


def _link(message: Any) -> str:
    [path] = LINK.findall(message.body)
    return str(path)


def _ticket(alpha: Workspace, contact: Contact, subject: str = "Broken", **kw: Any) -> Ticket:
    return services.ticket_create(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]),
        subject=subject,
        contact_id=contact.pk,
        **kw,
    )


def test_a_known_address_gets_a_single_use_link_that_signs_in(alpha: Workspace) -> None:
    ada = customer("ada@example.com", first_name="Ada")
    client = Client(HTTP_HOST=alpha.host)

    response = _ask(client, "  ADA@example.com ")
    assert response.status_code == 200
    assert b'data-testid="portal-link-sent"' in response.content
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    path = _link(message)
    token = path.split("/")[-2]
    link = PortalSignInLink.objects.get()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in link.token_hash
    assert link.expires_at - link.created_at == datetime.timedelta(minutes=15)

    # A GET (a mail scanner's too) only shows the button.
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200
    assert PortalSignInLink.objects.get().used_at is None
    assert not PortalSession.objects.exists()

    response = client.post(path)
    assert response.status_code == 302
    assert response["Location"] == "/portal/"
    cookie = response.cookies[portal.COOKIE_NAME]
    assert cookie["path"] == "/portal/"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    session = PortalSession.objects.get()
    assert session.contact_id == ada.pk
    assert session.token_hash == hashlib.sha256(cookie.value.encode()).hexdigest()
    assert client.get("/portal/").status_code == 200
    assert AuditEvent.objects.filter(action="portal.signed_in").count() == 1

    # Used once: a second use signs nobody in.
    other = Client(HTTP_HOST=alpha.host)
    response = other.post(path)
    assert response.status_code == 400
    assert b'data-testid="portal-link-invalid"' in response.content
    assert portal.COOKIE_NAME not in response.cookies
    assert PortalSession.objects.count() == 1


def test_an_expired_link_signs_nobody_in(alpha: Workspace) -> None:
    customer("ada@example.com")
    client = Client(HTTP_HOST=alpha.host)
    _ask(client, "ada@example.com")
    path = _link(mail.outbox[0])
    PortalSignInLink.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    assert client.get(path).status_code == 400
    response = client.post(path)
    assert response.status_code == 400
    assert not PortalSession.objects.exists()
    assert PortalSignInLink.objects.get().used_at is None


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_sent(alpha: Workspace) -> None:
    customer("ada@example.com")

    def answer(email: str) -> tuple[int, str]:
        response = _ask(Client(HTTP_HOST=alpha.host), email)
        html = response.content.decode()
        section = re.search(r"<section[^>]*portal-link-sent.*?</section>", html, re.S)
        assert section is not None
        return response.status_code, section.group(0).replace(email, "EMAIL")

    assert answer("ada@example.com") == answer("eve@example.com")
    assert len(mail.outbox) == 1
    assert PortalSignInLink.objects.count() == 1


def test_a_malformed_address_is_refused_naming_the_field(alpha: Workspace) -> None:
    before = db_state(alpha)
    response = _ask(Client(HTTP_HOST=alpha.host), "not-an-address")
    assert response.status_code == 400
    assert b'data-testid="error-email"' in response.content
    assert b"Enter a valid email address." in response.content
    assert mail.outbox == []
    assert db_state(alpha) == before


def test_links_are_limited_per_address_and_per_ip(alpha: Workspace) -> None:
    customer("ada@example.com")
    for n in range(portal.LINKS_PER_ADDRESS):
        assert _ask(Client(HTTP_HOST=alpha.host), "ada@example.com").status_code == 200, n
    response = _ask(Client(HTTP_HOST=alpha.host), "ada@example.com", REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429
    assert b'data-testid="error-email"' in response.content
    assert len(mail.outbox) == portal.LINKS_PER_ADDRESS
    assert PortalSignInLink.objects.count() == portal.LINKS_PER_ADDRESS

    # Per IP address, whatever the addresses asked for.
    for n in range(portal.LINKS_PER_IP - 1):  # the refused request above counted for 10.0.0.9
        response = _ask(Client(HTTP_HOST=alpha.host), f"x{n}@example.com", REMOTE_ADDR="10.0.0.9")
        assert response.status_code == 200, n
    customer("bob@example.com")
    response = _ask(Client(HTTP_HOST=alpha.host), "bob@example.com", REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429
    assert len(mail.outbox) == portal.LINKS_PER_ADDRESS


def test_a_customer_sees_only_their_own_tickets(alpha: Workspace) -> None:
    company = CompanyFactory.create()
    ada = customer("ada@example.com", company=company)
    bob = customer("bob@example.com", company=company)
    mine = _ticket(alpha, ada, "Mine")
    theirs = _ticket(alpha, bob, "Colleague's")
    client = portal_client(alpha, ada)

    html = client.get("/portal/").content.decode()
    assert re.findall(r'data-ticket="(\d+)"', html) == [str(mine.pk)]
    assert client.get(f"/portal/tickets/{mine.pk}/").status_code == 200
    assert client.get(f"/portal/tickets/{theirs.pk}/").status_code == 404
    assert client.post(f"/portal/tickets/{theirs.pk}/reply/", {"body": "Hi"}).status_code == 404
    assert not TicketMessage.objects.filter(ticket=theirs).exists()

    # The workspace lets customers see their company's tickets.
    PortalSettings.objects.create(company_tickets=True)
    html = client.get("/portal/").content.decode()
    assert re.findall(r'data-ticket="(\d+)"', html) == [str(theirs.pk), str(mine.pk)]
    assert client.get(f"/portal/tickets/{theirs.pk}/").status_code == 200


def test_internal_notes_never_reach_the_portal(alpha: Workspace) -> None:
    ada = customer("ada@example.com")
    ticket = _ticket(alpha, ada)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    services.ticket_reply(actor=agent, ticket=ticket, body="We are on it")
    services.ticket_reply(actor=agent, ticket=ticket, body="SECRET note", public=False)

    html = portal_client(alpha, ada).get(f"/portal/tickets/{ticket.pk}/").content.decode()

    assert "We are on it" in html
    assert "SECRET" not in html


def test_a_customer_reply_reopens_a_ticket_waiting_for_them(alpha: Workspace) -> None:
    ada = customer("ada@example.com")
    ticket = _ticket(alpha, ada)
    agent = fresh(alpha.members[Role.SUPPORT_AGENT])
    services.ticket_reply(actor=agent, ticket=ticket, body="Which model?", status="pending")
    client = portal_client(alpha, ada)

    response = client.post(f"/portal/tickets/{ticket.pk}/reply/", {"body": "The X200"})

    assert response.status_code == 302
    message = TicketMessage.objects.filter(ticket=ticket).latest("id")
    assert (message.direction, message.kind, message.body) == ("inbound", "reply", "The X200")
    assert message.sender_contact_id == ada.pk
    assert message.author_id is None
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.paused_since is None

    # An empty reply names the field and writes nothing.
    count = TicketMessage.objects.count()
    response = client.post(f"/portal/tickets/{ticket.pk}/reply/", {"body": "   "})
    assert response.status_code == 400
    assert b'data-testid="error-body"' in response.content
    assert TicketMessage.objects.count() == count


def test_a_closed_ticket_takes_no_reply(alpha: Workspace) -> None:
    ada = customer("ada@example.com")
    ticket = _ticket(alpha, ada)
    services.ticket_change_status(
        actor=fresh(alpha.members[Role.SUPPORT_AGENT]), ticket=ticket, status="closed"
    )
    client = portal_client(alpha, ada)
    before = db_state(alpha)
    response = client.post(f"/portal/tickets/{ticket.pk}/reply/", {"body": "Hello?"})
    assert response.status_code == 400
    assert db_state(alpha) == before


def test_a_customer_opens_a_ticket(alpha: Workspace) -> None:
    company = CompanyFactory.create()
    ada = customer("ada@example.com", company=company)
    client = portal_client(alpha, ada)

    response = client.post("/portal/tickets/new/", {"subject": "", "description": ""})
    assert response.status_code == 400
    assert b'data-testid="error-subject"' in response.content
    assert not Ticket.objects.exists()

    response = client.post(
        "/portal/tickets/new/", {"subject": "Обновление", "description": "ไม่ทำงาน 不工作"}
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/portal/tickets/{ticket.pk}/"
    assert (ticket.channel, ticket.status, ticket.contact_id, ticket.company_id) == (
        "portal",
        "new",
        ada.pk,
        company.pk,
    )
    assert ticket.created_by_id is None
    assert ticket.first_response_due_at is not None


def test_a_customer_corrects_their_own_details(alpha: Workspace) -> None:
    ada = customer("ada@example.com", first_name="Ada", last_name="Lovlace")
    client = portal_client(alpha, ada)

    response = client.post(
        "/portal/me/", {"first_name": "Ada", "last_name": "Lovelace", "job_title": "Analyst"}
    )
    assert response.status_code == 302
    ada.refresh_from_db()
    assert (ada.last_name, ada.job_title) == ("Lovelace", "Analyst")
    assert "lovelace" in ada.search_text
    assert AuditEvent.objects.filter(action="portal.contact_changed").count() == 1

    before = db_state(alpha)
    response = client.post("/portal/me/", {"first_name": "", "last_name": "", "job_title": ""})
    assert response.status_code == 400
    assert b'data-testid="error-first_name"' in response.content
    assert db_state(alpha) == before


def test_signing_out_ends_the_portal_session(alpha: Workspace) -> None:
    ada = customer("ada@example.com")
    client = portal_client(alpha, ada)
    response = client.post("/portal/sign-out/")
    assert response.status_code == 302
    assert PortalSession.objects.get().ended_at is not None
    response = client.get("/portal/")
    assert response.status_code == 302
    assert response["Location"] == "/portal/sign-in/"
