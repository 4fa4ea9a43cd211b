"""A member on a touch phone at 375 px filters the contacts list by a custom field: picks the
field, types a value that does not fit it and reads the error naming it, then a fitting one and
sees only the matching contact; the link carries the filter and none of the inputs left
empty. An agent filters the ticket inbox the same way. Screenshots at 375 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.sales.models import Contact, CustomField
from tests.conftest import World
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _seed(world: World) -> dict[str, Any]:
    with schema_context(world.alpha.tenant.schema_name):
        CustomField.objects.create(entity="contact", code="seats", label="Места", type="number")
        big = Contact.objects.create(first_name="Большой", last_name="Клиент", custom={"seats": 40})
        Contact.objects.create(first_name="Малый", last_name="Клиент", custom={"seats": 2})
        return {"big": big.pk}


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Contact.objects.filter(last_name="Клиент").delete()
        CustomField.objects.filter(code="seats").delete()


@pytest.fixture
def seeded(world: World, live_site: LiveSite) -> Iterator[dict[str, Any]]:
    yield orm(_seed, world)
    orm(_clean_up, world)


def test_a_member_filters_contacts_by_a_custom_field_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, seeded: dict[str, Any]
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page.goto(f"{site}/sales/contacts/")
    assert page.viewport_size == MOBILE

    filters = page.get_by_test_id("custom-filters")
    filters.locator("summary").tap()
    filters.get_by_label("Filter by the field").select_option("seats")
    at_least = filters.get_by_label("at least")
    expect(at_least).to_be_visible()
    at_least.fill("abc")
    page.get_by_role("button", name="Search").tap()

    error = page.get_by_test_id("custom-filter-error")
    expect(error).to_have_text("Места: Enter a number such as 12.50.")
    expect(page.locator("tr[data-contact]")).to_have_count(0)

    page.get_by_test_id("custom-filters").get_by_label("at least").fill("10")
    page.get_by_role("button", name="Search").tap()
    rows = page.locator("tr[data-contact]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-contact", str(seeded["big"]))
    assert "cf_seats__gte=10" in page.url
    # The inputs left empty stay out of the link.
    assert "cf_seats__lte" not in page.url
    # The page does not scroll sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    capture(page, "sales-custom-field-filters")


def _seed_tickets(world: World) -> dict[str, Any]:
    from crm_modules.service.models import Ticket

    with schema_context(world.alpha.tenant.schema_name):
        CustomField.objects.create(entity="ticket", code="units", label="Единицы", type="number")
        big = Ticket.objects.create(subject="Большой заказ", custom={"units": 40})
        Ticket.objects.create(subject="Малый заказ", custom={"units": 2})
        return {"big": big.pk}


def _clean_up_tickets(world: World) -> None:
    from crm_modules.service.models import Ticket

    with schema_context(world.alpha.tenant.schema_name):
        Ticket.objects.filter(subject__endswith="заказ").delete()
        CustomField.objects.filter(code="units").delete()


@pytest.fixture
def tickets(world: World, live_site: LiveSite) -> Iterator[dict[str, Any]]:
    yield orm(_seed_tickets, world)
    orm(_clean_up_tickets, world)


def test_an_agent_filters_the_ticket_inbox_by_a_custom_field_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, tickets: dict[str, Any]
) -> None:
    """The inbox takes the same filters as the sales lists, at 375 px with touch."""
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page.goto(f"{site}/service/?view=all")

    filters = page.get_by_test_id("custom-filters")
    filters.locator("summary").tap()
    filters.get_by_label("Filter by the field").select_option("units")
    filters.get_by_label("at least").fill("abc")
    page.get_by_role("button", name="Show").tap()
    expect(page.get_by_test_id("custom-filter-error")).to_have_text(
        "Единицы: Enter a number such as 12.50."
    )

    page.get_by_test_id("custom-filters").get_by_label("at least").fill("10")
    page.get_by_role("button", name="Show").tap()
    rows = page.locator("tr[data-ticket]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-ticket", str(tickets["big"]))
    assert "cf_units__gte=10" in page.url
    assert "cf_units__lte" not in page.url
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    capture(page, "service-inbox-custom-field-filters")


def _seed_areas(world: World) -> dict[str, Any]:
    from crm_modules.service.models import Ticket

    with schema_context(world.alpha.tenant.schema_name):
        CustomField.objects.create(
            entity="ticket",
            code="areas",
            label="Области",
            type="multi_select",
            options=["оплата", "вход", "мобильное"],
        )
        pay = Ticket.objects.create(subject="Счёт заказ", custom={"areas": ["оплата"]})
        login = Ticket.objects.create(subject="Пароль заказ", custom={"areas": ["вход"]})
        Ticket.objects.create(subject="Экран заказ", custom={"areas": ["мобильное"]})
        return {"pay": pay.pk, "login": login.pk}


def _clean_up_areas(world: World) -> None:
    from crm_modules.service.models import Ticket

    with schema_context(world.alpha.tenant.schema_name):
        Ticket.objects.filter(subject__endswith="заказ").delete()
        CustomField.objects.filter(code="areas").delete()


@pytest.fixture
def areas(world: World, live_site: LiveSite) -> Iterator[dict[str, Any]]:
    yield orm(_seed_areas, world)
    orm(_clean_up_areas, world)


def test_an_agent_picks_several_options_of_a_multi_select_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, areas: dict[str, Any]
) -> None:
    """Two options ticked list the tickets having either of them (ADR 0069)."""
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page.goto(f"{site}/service/?view=all")

    filters = page.get_by_test_id("custom-filters")
    filters.locator("summary").tap()
    filters.get_by_label("Filter by the field").select_option("areas")
    filters.get_by_label("оплата").check()
    filters.get_by_label("вход").check()
    page.get_by_role("button", name="Show").tap()

    rows = page.locator("tr[data-ticket]")
    expect(rows).to_have_count(2)
    shown = {int(rows.nth(n).get_attribute("data-ticket") or 0) for n in range(2)}
    assert shown == {areas["pay"], areas["login"]}
    assert page.url.count("cf_areas__any=") == 2
    again = page.get_by_test_id("custom-filters")
    expect(again.get_by_label("оплата")).to_be_checked()
    expect(again.get_by_label("мобильное")).not_to_be_checked()
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    capture(page, "service-inbox-any-of-options")
