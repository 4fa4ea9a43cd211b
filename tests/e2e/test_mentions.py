"""@mentions in a real browser: on a phone, a sales rep types "@" and a few letters in a note on
a contact, picks a colleague from the picker with a tap (and, at desktop width, with the arrow
keys and Enter), and the colleague's open page shows the notification at once, with no reload;
the colleague also gets an email."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from crm_modules.activities.models import Activity
from crm_modules.sales import services
from crm_modules.sales.models import Contact
from tenants.audit.models import AuditEvent
from tenants.models import Membership
from tenants.roles import Role
from tests.conftest import World
from tests.e2e.conftest import DESKTOP, LiveSite, capture, orm, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _make(world: World) -> int:
    with schema_context(world.alpha.tenant.schema_name):
        rep = Membership.objects.get(pk=world.alpha.members[Role.SALES_REP].pk)
        return services.contact_create(actor=rep, first_name="Giulia", last_name="Romano").pk


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Contact.objects.filter(first_name="Giulia", last_name="Romano").delete()
        Activity.objects.all().delete()
        AuditEvent.objects.filter(action__startswith="contact.").delete()
        AuditEvent.objects.filter(action__startswith="activity.").delete()


@pytest.fixture
def contact(world: World, live_site: LiveSite) -> Iterator[int]:
    mail.outbox.clear()
    made = orm(_make, world)
    yield made
    orm(_clean_up, world)


def _notes(world: World) -> list[dict[str, Any]]:
    with schema_context(world.alpha.tenant.schema_name):
        notes = Activity.objects.filter(kind="note").order_by("id")
        return [{"body": note.body, "data": note.data} for note in notes]


def _colleague_watching(browser: Browser, world: World, live_site: LiveSite) -> Page:
    """The manager's page, open on the dashboard, with its notifications socket connected."""
    colleague = phone_page(browser, world.alpha.members[Role.MANAGER])
    colleague.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}/")
    colleague.evaluate("window.__samePage = true")
    expect(colleague.locator("body")).to_have_attribute("data-live", "on")
    return colleague


def test_a_rep_mentions_a_colleague_with_a_tap_on_a_phone_and_their_open_page_is_told(
    world: World, live_site: LiveSite, browser: Browser, contact: int
) -> None:
    manager = world.alpha.members[Role.MANAGER]
    colleague = _colleague_watching(browser, world, live_site)

    page = phone_page(browser, world.alpha.members[Role.SALES_REP])
    page.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}/sales/contacts/{contact}/")
    form = page.get_by_test_id("log-activity")
    form.locator("[name=kind]").select_option("note")
    body = form.locator("[name=body]")
    body.tap()
    body.press_sequentially("Can you call her back, @" + manager.user.email[:4])
    option = page.locator(f'.mention-list [role=option][data-mention="{manager.user.email}"]')
    expect(option).to_be_visible()
    expect(body).to_have_attribute("aria-expanded", "true")
    capture(page, "sales-note-mention")
    option.tap()
    expect(body).to_have_value(f"Can you call her back, @{manager.user.email} ")
    expect(page.locator(".mention-list")).to_be_hidden()
    body.press_sequentially("?")
    form.get_by_role("button", name="Log").tap()
    expect(page.get_by_text(f"Can you call her back, @{manager.user.email} ?")).to_be_visible()

    # The colleague's page, open all along, shows the notification without a reload.
    toast = colleague.get_by_test_id("live-toast")
    expect(toast).to_contain_text("mentioned you on Giulia Romano")
    assert colleague.evaluate("window.__samePage") is True
    [note] = orm(_notes, world)
    assert note["data"] == {"mentions": [manager.user_id]}
    assert [m.to for m in mail.outbox if "Giulia Romano" in f"{m.subject} {m.body}"] == [
        [manager.user.email]
    ]
    colleague.context.close()
    page.context.close()


def test_the_picker_answers_the_keyboard_at_desktop_width(
    world: World, live_site: LiveSite, browser: Browser, contact: int
) -> None:
    manager = world.alpha.members[Role.MANAGER]
    page = phone_page(browser, world.alpha.members[Role.SALES_REP])
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}/sales/contacts/{contact}/")
    form = page.get_by_test_id("log-activity")
    form.locator("[name=kind]").select_option("note")
    body = form.locator("[name=body]")
    body.click()
    body.press_sequentially("@" + manager.user.email[:4])
    options = page.locator(".mention-list [role=option]")
    expect(options.first).to_be_visible()
    wanted = page.locator(f'.mention-list [role=option][data-mention="{manager.user.email}"]')
    # Arrow keys move the selection until the colleague is the chosen option.
    for _ in range(options.count()):
        if wanted.get_attribute("aria-selected") == "true":
            break
        body.press("ArrowDown")
    expect(wanted).to_have_attribute("aria-selected", "true")
    expect(body).to_have_attribute("aria-activedescendant", str(wanted.get_attribute("id")))
    body.press("Enter")
    expect(body).to_have_value(f"@{manager.user.email} ")
    # Escape closes a list opened again, and leaves the text as typed.
    body.press_sequentially("@" + manager.user.email[:4])
    expect(options.first).to_be_visible()
    body.press("Escape")
    expect(page.locator(".mention-list")).to_be_hidden()
    expect(body).to_have_value(f"@{manager.user.email} @{manager.user.email[:4]}")
    page.context.close()
