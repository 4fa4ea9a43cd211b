"""An admin, at phone width with touch, lets customers see their company's tickets on the staff
page of the customer portal; and writes an internal note on a ticket with the @mention picker.
Screenshots at 375 and 1280 px."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.service.models import BusinessHours, PortalSettings, SlaPolicy, Ticket
from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _setting(world: World) -> list[bool]:
    with schema_context(world.alpha.tenant.schema_name):
        return list(PortalSettings.objects.values_list("company_tickets", flat=True))


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities import api as timeline
        from crm_modules.activities.models import Activity
        from tenants.audit.models import AuditEvent

        PortalSettings.objects.all().delete()
        Ticket.objects.all().delete()
        SlaPolicy.objects.all().delete()
        BusinessHours.objects.all().delete()
        Activity.objects.all().delete()
        timeline.activity_days_rebuild()
        AuditEvent.objects.filter(action__startswith="portal.").delete()
        AuditEvent.objects.filter(action__startswith="ticket.").delete()


@pytest.fixture
def cleaned(world: World, live_site: LiveSite) -> Iterator[None]:
    yield
    orm(_clean_up, world)


def test_an_admin_turns_on_company_tickets_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, cleaned: None
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/service/portal/")
    box = page.get_by_test_id("company-tickets")
    expect(box).not_to_be_checked()
    capture(page, "service-portal-settings")
    box.tap()
    page.get_by_role("button", name="Save").tap()
    expect(page.get_by_test_id("company-tickets")).to_be_checked()
    assert orm(_setting, world) == [True]

    # A ticket's internal note offers the mention picker.
    page.goto(f"{site}/service/new/")
    page.get_by_label("Subject").fill("Fattura doppia")
    page.get_by_role("button", name="Open ticket").tap()
    expect(page.get_by_test_id("ticket-subject")).to_contain_text("Fattura doppia")
    page.get_by_label("Internal note").tap()
    body = page.get_by_test_id("reply-body")
    body.tap()
    body.press_sequentially("@" + world.alpha.owner.user.email[:3])
    option = page.locator(".mention-list [role=option]").first
    expect(option).to_be_visible()
    capture(page, "service-ticket-mention")
    page.context.close()
