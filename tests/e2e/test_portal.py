"""A customer's path in a real browser at phone width with touch: ask for a sign-in link on the
portal, follow it from the email, see their own ticket (not a colleague's), reply; then the
ticket is solved and the satisfaction link from the email records a rating. Screenshots of the
portal pages at 375 and 1280 px."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core import mail
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.sales.models import Contact, ContactEmail
from crm_modules.service import services
from crm_modules.service.models import (
    BusinessHours,
    CsatSurvey,
    PortalSession,
    PortalSignInLink,
    SlaPolicy,
    Ticket,
    TicketMessage,
)
from tenants.models import Membership
from tenants.roles import Role
from tests.conftest import World
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm
from tests.sales.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

EMAIL = "giulia.rossi@example.com"


def _agent(world: World) -> Membership:
    return Membership.objects.select_related("tenant", "user").get(
        pk=world.alpha.members[Role.SUPPORT_AGENT].pk
    )


def _make(world: World) -> tuple[int, int]:
    with schema_context(world.alpha.tenant.schema_name):
        giulia = ContactFactory.create(first_name="Giulia", last_name="Rossi", primary_email=EMAIL)
        ContactEmail.objects.create(contact=giulia, email=EMAIL, is_primary=True)
        other = ContactFactory.create(first_name="Marco", primary_email="marco@example.com")
        agent = _agent(world)
        mine = services.ticket_create(
            actor=agent, subject="Fattura doppia", contact_id=giulia.pk, assignee_id=agent.user_id
        )
        services.ticket_reply(actor=agent, ticket=mine, body="Quale fattura, per favore?")
        services.ticket_create(actor=agent, subject="Marco's secret", contact_id=other.pk)
        return giulia.pk, mine.pk


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities import api as timeline
        from crm_modules.activities.models import Activity
        from tenants.audit.models import AuditEvent

        Ticket.objects.all().delete()
        PortalSession.objects.all().delete()
        PortalSignInLink.objects.all().delete()
        SlaPolicy.objects.all().delete()
        BusinessHours.objects.all().delete()
        Contact.objects.all().delete()
        Activity.objects.all().delete()
        timeline.activity_days_rebuild()
        AuditEvent.objects.filter(action__startswith="ticket.").delete()
        AuditEvent.objects.filter(action__startswith="portal.").delete()


@pytest.fixture
def made(world: World, live_site: LiveSite) -> Iterator[tuple[int, int]]:
    mail.outbox.clear()
    yield orm(_make, world)
    orm(_clean_up, world)


def _solve(world: World, ticket_id: int) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        ticket = Ticket.objects.get(pk=ticket_id)
        services.ticket_change_status(actor=_agent(world), ticket=ticket, status="solved")


def _state(world: World, ticket_id: int) -> tuple[list[tuple[str, str]], list[int | None]]:
    with schema_context(world.alpha.tenant.schema_name):
        messages = list(
            TicketMessage.objects.filter(ticket_id=ticket_id)
            .order_by("id")
            .values_list("direction", "body")
        )
        scores = list(
            CsatSurvey.objects.filter(ticket_id=ticket_id).values_list("score", flat=True)
        )
        return messages, scores


def test_a_customer_signs_in_by_magic_link_sees_their_ticket_replies_and_rates(
    world: World, live_site: LiveSite, browser: Browser, made: tuple[int, int]
) -> None:
    _contact_id, ticket_id = made
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/portal/")
    expect(page).to_have_url(f"{site}/portal/sign-in/")
    capture(page, "portal-sign-in")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_role("button", name="Send me a sign-in link").tap()
    expect(page.get_by_test_id("portal-link-sent")).to_contain_text(EMAIL)

    # (The agent's reply on the ticket was emailed to the customer too.)
    [message] = [m for m in mail.outbox if m.to == [EMAIL] and "/portal/sign-in/" in m.body]
    [link] = re.findall(r"http://\S+/portal/sign-in/\S+/", str(message.body))
    assert link.startswith(f"{site}/portal/sign-in/")
    page.goto(link)
    page.get_by_test_id("portal-redeem-button").tap()

    expect(page).to_have_url(f"{site}/portal/")
    tickets = page.get_by_test_id("portal-tickets")
    expect(tickets).to_contain_text("Fattura doppia")
    expect(tickets).not_to_contain_text("Marco's secret")
    capture(page, "portal-home")

    page.get_by_role("link", name=re.compile("Fattura doppia")).tap()
    conversation = page.get_by_test_id("portal-conversation")
    expect(conversation).to_contain_text("Quale fattura, per favore?")
    page.get_by_label("Your message").fill("Quella di novembre, numero 2026/118.")
    page.get_by_test_id("portal-send-reply").tap()
    expect(conversation).to_contain_text("Quella di novembre, numero 2026/118.")
    capture(page, "portal-ticket")

    # The link was used: following it again signs nobody in.
    other = context.browser.new_context(viewport=MOBILE)  # type: ignore[union-attr]
    again = other.new_page()
    again.goto(link)
    expect(again.get_by_test_id("portal-link-invalid")).to_be_visible()
    other.close()

    orm(_solve, world, ticket_id)
    [survey] = [m for m in mail.outbox if m.to == [EMAIL] and "How did we do?" in m.subject]
    [rate] = re.findall(r"http://\S+/portal/rate/\S+/\?score=4", str(survey.body))
    page.goto(rate)
    expect(page.get_by_test_id("csat-score-4")).to_be_checked()
    capture(page, "portal-rate")
    page.get_by_label("Anything to add? (optional)").fill("Gentili e veloci")
    page.get_by_test_id("csat-send").tap()
    expect(page.get_by_test_id("csat-thanks")).to_contain_text("4 of 5")

    messages, scores = orm(_state, world, ticket_id)
    assert messages == [
        ("outbound", "Quale fattura, per favore?"),
        ("inbound", "Quella di novembre, numero 2026/118."),
    ]
    assert scores == [4]
    context.close()
