"""The command palette in a real browser: Control+K, a Thai or Chinese name, Enter, and the
record's page; "New contact" and "Log a call" run from the keyboard only, at 375 px too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, BrowserContext, Page, expect

from crm_modules.sales import services
from crm_modules.sales.models import Contact
from tenants.audit.models import AuditEvent
from tenants.models import Membership
from tests.conftest import World
from tests.e2e.conftest import DESKTOP, MOBILE, LiveSite, capture, orm, session_key

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _make(world: World) -> dict[str, int]:
    with schema_context(world.alpha.tenant.schema_name):
        actor = Membership.objects.get(pk=world.alpha.owner.pk)
        thai = services.contact_create(actor=actor, first_name="สมศักดิ์", last_name="รุ่งเรือง")
        chinese = services.contact_create(actor=actor, first_name="李", last_name="晓明")
        return {"thai": thai.pk, "chinese": chinese.pk}


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities.models import Activity

        Contact.objects.all().delete()
        Activity.objects.all().delete()
        AuditEvent.objects.filter(action__startswith="contact.").delete()


@pytest.fixture
def contacts(world: World, live_site: LiveSite) -> Iterator[dict[str, int]]:
    made = orm(_make, world)
    yield made
    orm(_clean_up, world)


def _open(
    browser: Browser, world: World, live_site: LiveSite, path: str, **options: Any
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, world.alpha.owner),
        "domain": f"{world.alpha.tenant.slug}.localhost",
        "path": "/",
    }
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}{path}")
    return context, page


@pytest.mark.parametrize(("name", "key"), [("รุ่งเรือง", "thai"), ("晓明", "chinese")])
def test_control_k_finds_a_contact_by_a_thai_or_chinese_name_and_enter_opens_it(
    world: World,
    live_site: LiveSite,
    browser: Browser,
    contacts: dict[str, int],
    name: str,
    key: str,
) -> None:
    context, page = _open(browser, world, live_site, "/sales/deals/list/", viewport=DESKTOP)
    page.keyboard.press("Control+K")
    palette = page.get_by_test_id("palette")
    expect(palette).to_be_visible()
    expect(page.locator("#palette-input")).to_be_focused()
    page.keyboard.type(name)
    option = palette.locator(f'[data-result="contacts-{contacts[key]}"]')
    expect(option).to_be_visible()
    expect(option).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(page).to_have_url(
        f"{live_site.workspace(str(world.alpha.tenant.slug))}/sales/contacts/{contacts[key]}/"
    )
    expect(page.locator("h1")).to_contain_text(name)
    context.close()


def test_new_contact_runs_from_the_palette_with_the_keyboard_on_a_phone(
    world: World, live_site: LiveSite, browser: Browser, contacts: dict[str, int]
) -> None:
    context, page = _open(
        browser, world, live_site, "/", viewport=MOBILE, has_touch=True, is_mobile=True
    )
    page.keyboard.press("Control+K")
    expect(page.get_by_test_id("palette")).to_be_visible()
    capture(page, "palette-375")
    page.keyboard.type("contact")
    expect(page.locator("#palette-action-new_contact")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#palette-action-new_company")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page).to_have_url(
        f"{live_site.workspace(str(world.alpha.tenant.slug))}/sales/contacts/new/"
    )
    page.get_by_label("First name").fill("Zhou")
    page.get_by_label("Last name").fill("慧敏")
    page.get_by_label("Last name").press("Enter")
    expect(page.locator("h1")).to_contain_text("慧敏")
    assert set(orm(_names, world)) == {"晓明", "慧敏", "รุ่งเรือง"}
    context.close()


def _names(world: World) -> list[str]:
    with schema_context(world.alpha.tenant.schema_name):
        return sorted(Contact.objects.values_list("last_name", flat=True))


def test_log_a_call_after_choosing_a_contact_with_arrow_keys(
    world: World, live_site: LiveSite, browser: Browser, contacts: dict[str, int]
) -> None:
    context, page = _open(browser, world, live_site, "/", viewport=DESKTOP)
    page.keyboard.press("Control+K")
    page.keyboard.type("call")
    expect(page.locator("#palette-action-log_call")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(page.locator("#palette-action-log_call")).to_be_hidden()
    page.keyboard.type("晓明")
    option = page.locator(f'[data-result="contacts-{contacts["chinese"]}"]')
    expect(option).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")  # one option only: the selection wraps onto it
    expect(option).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(page).to_have_url(
        f"{live_site.workspace(str(world.alpha.tenant.slug))}/sales/contacts/{contacts['chinese']}/#log-call"
    )
    form = page.get_by_test_id("log-activity")
    expect(form.locator("[name=kind]")).to_have_value("call")
    expect(form.locator("[name=subject]")).to_be_focused()
    page.keyboard.type("Called about the renewal")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Called about the renewal").first).to_be_visible()
    context.close()
