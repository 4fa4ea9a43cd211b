"""The email channel end to end, over real SMTP and in a real browser: a customer's email sent
to the workspace's support address (the aiosmtpd receiving server) becomes a ticket routed to
the support team's agent; the agent replies in the browser; the reply reaches a local SMTP
server with the thread's headers; the customer's answer, built from those headers, comes back
over SMTP onto the same ticket; the agent solves it; the rating link from the survey email
records a rating; the customer signs in to the portal by the link from the sign-in email and
sees the ticket. Screenshots of the inbox, the ticket and the portal at 375 and 1280 px."""

from __future__ import annotations

import email
import re
import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from crm_modules.service.mail.smtp import controller as inbound_controller
from crm_modules.service.models import AgentProfile, CsatSurvey, Ticket, TicketMessage
from crm_modules.service.services import routing
from tenants.models import Membership, Team
from tenants.roles import Role
from tests.conftest import World
from tests.e2e.conftest import DESKTOP, MOBILE, LiveSite, capture, orm, session_key
from tests.service.test_inbound_smtp import deleted_afterwards

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

CUSTOMER = "Anna Bianchi <anna.bianchi@example.it>"
ADDRESS = "anna.bianchi@example.it"
SUPPORT = "support@alpha.in.localhost"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Outbox:
    """What the workspace sent, as accepted by a local SMTP server."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)

    def to_customer(self) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if ADDRESS in str(m["To"])]


class _SinkHandler:
    def __init__(self, outbox: Outbox):
        self.outbox = outbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default)
        self.outbox.messages.append(parsed)
        return "250 Message accepted for delivery"


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    from aiosmtpd.controller import Controller

    sent = Outbox()
    port = _free_port()
    sink = Controller(_SinkHandler(sent), hostname="127.0.0.1", port=port)
    sink.start()
    try:
        # Every mail takes the production path: queued after commit (the test environment
        # otherwise swaps EMAIL_BACKEND for locmem), then delivered over SMTP to the sink.
        with override_settings(
            EMAIL_BACKEND="crm_platform.mail.TaskEmailBackend",
            EMAIL_DELIVERY_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            EMAIL_USE_TLS=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
        ):
            yield sent
    finally:
        sink.stop()


@pytest.fixture
def inbound_port(world: World, django_db_blocker: Any) -> Iterator[int]:
    port = _free_port()
    server = inbound_controller(host="127.0.0.1", port=port)
    server.start()
    try:
        yield port
    finally:
        server.stop()


def _agent(world: World) -> Membership:
    return Membership.objects.select_related("tenant", "user").get(
        pk=world.alpha.members[Role.SUPPORT_AGENT].pk
    )


def _route_email_to_the_agent(world: World) -> int:
    """The support team (the agent, available) gets every email."""
    team = Team.objects.create(tenant=world.alpha.tenant, name="Assistenza clienti")
    Membership.objects.filter(pk=world.alpha.members[Role.SUPPORT_AGENT].pk).update(team=team)
    manager = Membership.objects.select_related("tenant", "user").get(
        pk=world.alpha.members[Role.MANAGER].pk
    )
    with schema_context(world.alpha.tenant.schema_name):
        AgentProfile.objects.create(user_id=_agent(world).user_id, available=True, max_open=5)
        routing.routing_rule_save(actor=manager, name="Posta", team_id=team.pk, channels="email")
    return int(team.pk)


def _unassign_team(world: World) -> None:
    Membership.objects.filter(pk=world.alpha.members[Role.SUPPORT_AGENT].pk).update(team=None)


def _undo_routing(world: World, team_id: int) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities import api as timeline

        timeline.activity_days_rebuild()
    Team.objects.filter(pk=team_id).delete()


@pytest.fixture
def routed(world: World, live_site: LiveSite, inbound_port: int) -> Iterator[int]:
    # Everything the test commits in the workspace goes afterwards (run off Playwright's loop).
    created = deleted_afterwards(world.alpha.tenant.schema_name)
    orm(created.__enter__)
    team_id = orm(_route_email_to_the_agent, world)
    try:
        yield team_id
    finally:
        orm(_unassign_team, world)
        orm(created.__exit__, None, None, None)
        orm(_undo_routing, world, team_id)


def _send(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        assert client.send_message(message, from_addr=ADDRESS, to_addrs=[SUPPORT]) == {}


def _ticket(world: World) -> tuple[int, str, int | None, int | None, str]:
    with schema_context(world.alpha.tenant.schema_name):
        ticket = Ticket.objects.get()
        return ticket.pk, ticket.status, ticket.team_id, ticket.assignee_id, ticket.channel


def _conversation(world: World, ticket_id: int) -> list[tuple[str, str]]:
    with schema_context(world.alpha.tenant.schema_name):
        return [
            (direction, body.strip())
            for direction, body in TicketMessage.objects.filter(ticket_id=ticket_id)
            .order_by("id")
            .values_list("direction", "body")
        ]


def _scores(world: World, ticket_id: int) -> list[tuple[int | None, str]]:
    with schema_context(world.alpha.tenant.schema_name):
        return list(CsatSurvey.objects.filter(ticket_id=ticket_id).values_list("score", "comment"))


def _agent_page(browser: Browser, world: World) -> Page:
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(20_000)
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(lambda: session_key(_agent(world))),
        "domain": f"{world.alpha.tenant.slug}.localhost",
        "path": "/",
    }
    context.add_cookies([cookie])
    return context.new_page()


def _wait_for(outbox: Outbox, count: int, page: Page) -> list[email.message.EmailMessage]:
    """The customer's mail once ``count`` messages reached them (delivery runs in the
    server's threads)."""
    for _attempt in range(200):
        if len(outbox.to_customer()) >= count:
            return outbox.to_customer()
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {count} emails, got {[m['Subject'] for m in outbox.messages]}")


def _text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _link(message: email.message.EmailMessage, pattern: str) -> str:
    [found] = re.findall(pattern, _text(message))
    return str(found)


def test_an_email_over_smtp_is_routed_answered_threaded_solved_rated_and_seen_on_the_portal(
    world: World,
    live_site: LiveSite,
    browser: Browser,
    outbox: Outbox,
    inbound_port: int,
    routed: int,
) -> None:
    site = live_site.workspace(str(world.alpha.tenant.slug))
    agent = orm(_agent, world)

    # 1. The customer writes to the support address over SMTP.
    first = EmailMessage()
    first["From"] = CUSTOMER
    first["To"] = SUPPORT
    first["Subject"] = "La lavatrice non centrifuga"
    first["Message-ID"] = "<anna-1@example.it>"
    first.set_content("Buongiorno, la lavatrice ordinata il 3 novembre non centrifuga.")
    _send(inbound_port, first)

    ticket_id, status, team_id, assignee_id, channel = orm(_ticket, world)
    assert (status, team_id, assignee_id, channel) == ("open", routed, agent.user_id, "email")

    # 2. The agent finds it in their inbox and replies in the browser.
    page = _agent_page(browser, world)
    page.goto(f"{site}/service/?view=mine")
    expect(page.get_by_test_id("tickets")).to_contain_text("La lavatrice non centrifuga")
    capture(page, "service-email-inbox")
    page.get_by_role("link", name="La lavatrice non centrifuga").tap()
    expect(page.get_by_test_id("ticket-assignee")).to_contain_text(
        agent.user.full_name or agent.user.email
    )
    expect(page.get_by_test_id("conversation")).to_contain_text("non centrifuga")
    page.get_by_label("Message").fill("Gentile Anna, le mandiamo un tecnico giovedì mattina.")
    page.get_by_test_id("send-reply").tap()
    expect(page.get_by_test_id("conversation")).to_contain_text("un tecnico giovedì")

    # The acknowledgement, then the agent's reply, reached the customer with the thread.
    acknowledgement, reply = _wait_for(outbox, 2, page)[:2]
    assert acknowledgement["Auto-Submitted"] == "auto-replied"
    assert acknowledgement["In-Reply-To"] == "<anna-1@example.it>"
    assert reply["Auto-Submitted"] is None
    assert f"[#{ticket_id}]" in str(reply["Subject"])
    assert reply["In-Reply-To"] == acknowledgement["Message-ID"]
    assert str(reply["References"]).split() == [
        *str(acknowledgement["References"]).split(),
        acknowledgement["Message-ID"],
    ]
    assert str(reply["References"]).split()[0] == "<anna-1@example.it>"
    assert "un tecnico giovedì mattina" in _text(reply)

    # 3. The customer answers the reply (the headers a mail client would write) over SMTP.
    answer = EmailMessage()
    answer["From"] = CUSTOMER
    answer["To"] = SUPPORT
    answer["Subject"] = f"Re: {reply['Subject']}"
    answer["Message-ID"] = "<anna-2@example.it>"
    answer["In-Reply-To"] = reply["Message-ID"]
    answer["References"] = f"{reply['References']} {reply['Message-ID']}"
    answer.set_content("Giovedì va benissimo, grazie.")
    _send(inbound_port, answer)

    assert orm(_conversation, world, ticket_id) == [
        ("inbound", "Buongiorno, la lavatrice ordinata il 3 novembre non centrifuga."),
        ("outbound", "Gentile Anna, le mandiamo un tecnico giovedì mattina."),
        ("inbound", "Giovedì va benissimo, grazie."),
    ]
    page.reload()
    expect(page.get_by_test_id("conversation")).to_contain_text("Giovedì va benissimo")
    capture(page, "service-email-ticket")

    # 4. The agent solves the ticket; the survey email carries the one-click rating.
    page.get_by_text("Status, priority, type and tags").tap()
    page.get_by_label("Status", exact=True).select_option("solved")
    page.get_by_test_id("fields-form").get_by_role("button", name="Save").tap()
    expect(page.get_by_test_id("ticket-status")).to_have_text("Solved")
    page.context.close()

    customer = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    customer.set_default_timeout(20_000)
    portal = customer.new_page()
    [survey] = [m for m in _wait_for(outbox, 3, portal) if "How did we do?" in str(m["Subject"])]
    rate = _link(survey, r"http://\S+/portal/rate/\S+/\?score=5")
    assert rate.startswith(f"{site}/portal/rate/")
    portal.goto(rate)
    expect(portal.get_by_test_id("csat-score-5")).to_be_checked()
    portal.get_by_label("Anything to add? (optional)").fill("Rapidi e gentili")
    portal.get_by_test_id("csat-send").tap()
    expect(portal.get_by_test_id("csat-thanks")).to_contain_text("5 of 5")
    assert orm(_scores, world, ticket_id) == [(5, "Rapidi e gentili")]

    # 5. The customer signs in to the portal by the link from the sign-in email.
    portal.goto(f"{site}/portal/")
    portal.get_by_label("Email address").fill(ADDRESS)
    portal.get_by_role("button", name="Send me a sign-in link").tap()
    expect(portal.get_by_test_id("portal-link-sent")).to_contain_text(ADDRESS)
    [sign_in] = [m for m in _wait_for(outbox, 4, portal) if "/portal/sign-in/" in _text(m)]
    link = _link(sign_in, r"http://\S+/portal/sign-in/\S+/")
    portal.goto(link)
    portal.get_by_test_id("portal-redeem-button").tap()
    expect(portal).to_have_url(f"{site}/portal/")
    expect(portal.get_by_test_id("portal-tickets")).to_contain_text("La lavatrice non centrifuga")
    capture(portal, "service-email-portal")
    portal.get_by_role("link", name=re.compile("La lavatrice non centrifuga")).tap()
    conversation = portal.get_by_test_id("portal-conversation")
    expect(conversation).to_contain_text("un tecnico giovedì")
    expect(conversation).to_contain_text("Giovedì va benissimo")
    portal.set_viewport_size(DESKTOP)
    capture(portal, "service-email-portal-ticket")
    customer.close()
