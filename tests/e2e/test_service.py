"""A support agent's path in a real browser, at phone width with touch: open a ticket from a
contact's page, reply to the customer, and find the ticket and the reply on the contact's
shared timeline. Screenshots of the inbox, the ticket and the contact at 375 and 1280 px."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.activities import api as timeline
from crm_modules.service.models import BusinessHours, SlaPolicy, Ticket
from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page
from tests.sales.factories import CompanyFactory, ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _make(world: World) -> int:
    with schema_context(world.alpha.tenant.schema_name):
        company = CompanyFactory.create(name="Fabbrica Rossi")
        return int(
            ContactFactory.create(first_name="Giulia", last_name="Rossi", company=company).pk
        )


def _tickets(world: World) -> list[tuple[str, str, int | None]]:
    with schema_context(world.alpha.tenant.schema_name):
        return list(Ticket.objects.values_list("subject", "status", "contact_id"))


def _clean_up(world: World, contact_id: int) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities.models import Activity
        from crm_modules.sales.models import Company, Contact
        from tenants.audit.models import AuditEvent

        Ticket.objects.all().delete()
        SlaPolicy.objects.all().delete()
        BusinessHours.objects.all().delete()
        contact = Contact.objects.get(pk=contact_id)
        Contact.objects.filter(pk=contact_id).delete()
        if contact.company_id is not None:
            Company.objects.filter(pk=contact.company_id).delete()
        Activity.objects.all().delete()
        timeline.activity_days_rebuild()
        AuditEvent.objects.filter(action__startswith="ticket.").delete()


@pytest.fixture
def contact_id(world: World, live_site: LiveSite) -> Iterator[int]:
    made = orm(_make, world)
    yield made
    orm(_clean_up, world, made)


def test_an_agent_opens_a_ticket_for_a_contact_replies_and_sees_it_on_the_timeline(
    world: World, live_site: LiveSite, browser: Browser, contact_id: int
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/sales/contacts/{contact_id}/")
    expect(page.get_by_test_id("customer-tickets")).to_contain_text("0 open tickets")
    page.get_by_test_id("contact-new-ticket").tap()
    page.get_by_label("Subject").fill("La fattura è sbagliata")
    page.get_by_label("Description").fill("Importo doppio sulla fattura di novembre")
    page.get_by_label("Priority").select_option("high")
    page.get_by_role("button", name="Open ticket").tap()

    expect(page.get_by_test_id("ticket-subject")).to_contain_text("La fattura è sbagliata")
    expect(page.get_by_test_id("ticket-contact")).to_have_text("Giulia Rossi")
    expect(page.get_by_test_id("sla")).to_contain_text("First response due")
    page.get_by_label("Message").fill("Gentile Giulia, abbiamo corretto la fattura.")
    page.get_by_test_id("send-reply").tap()
    expect(page.get_by_test_id("conversation")).to_contain_text("abbiamo corretto la fattura")
    expect(page.get_by_test_id("ticket-status")).to_have_text("Open")
    expect(page.get_by_test_id("sla")).to_contain_text("First response: met")
    capture(page, "service-ticket")

    assert orm(_tickets, world) == [("La fattura è sbagliata", "open", contact_id)]

    page.goto(f"{site}/service/?view=all")
    expect(page.get_by_test_id("tickets")).to_contain_text("La fattura è sbagliata")
    capture(page, "service-inbox")

    page.get_by_role("link", name="La fattura è sbagliata").tap()
    page.get_by_test_id("ticket-contact").tap()
    timeline_list = page.get_by_test_id("timeline")
    expect(timeline_list.locator('[data-kind="ticket_reply"]')).to_contain_text(
        "abbiamo corretto la fattura"
    )
    expect(timeline_list.locator('[data-kind="ticket"]')).to_contain_text("La fattura è sbagliata")
    expect(page.get_by_test_id("customer-tickets")).to_contain_text("1 open ticket")
    # Each timeline entry reads as one block across the row, not as squeezed columns.
    entry = timeline_list.locator('[data-kind="ticket_reply"]')
    row_width = entry.bounding_box()["width"]  # type: ignore[index]
    text_width = entry.locator("p").bounding_box()["width"]  # type: ignore[index]
    assert text_width >= row_width * 0.8
    capture(page, "service-contact")
    page.context.close()
