"""A member on a touch phone at 375 px sorts the companies list by a custom field (ADR 0070):
picks "Custom field: …, descending" in the list's new order choice and reads the companies from
the most seats down, those without a value last; the link carries the sort. Screenshot at
375 px."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.sales.models import Company, CustomField
from tests.conftest import World
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _seed(world: World) -> list[int]:
    with schema_context(world.alpha.tenant.schema_name):
        CustomField.objects.create(entity="company", code="seats", label="Места", type="number")
        few = Company.objects.create(name="Малая фирма", custom={"seats": 9})
        none = Company.objects.create(name="Новая фирма", custom={})
        many = Company.objects.create(name="Большая фирма", custom={"seats": 40})
        return [many.pk, few.pk, none.pk]


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Company.objects.filter(name__endswith="фирма").delete()
        CustomField.objects.filter(entity="company", code="seats").delete()


@pytest.fixture
def seeded(world: World, live_site: LiveSite) -> Iterator[list[int]]:
    yield orm(_seed, world)
    orm(_clean_up, world)


def test_a_member_sorts_companies_by_a_custom_field_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, seeded: list[int]
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page.goto(f"{site}/sales/companies/")
    assert page.viewport_size == MOBILE

    order = page.get_by_label("Order")
    order.select_option(label="Custom field: Места, descending")
    page.get_by_role("button", name="Search").tap()

    expect(page).to_have_url(re.compile(r"sort=-cf_seats"))
    rows = page.locator("tr[data-company]")
    ids = [int(pk) for pk in rows.evaluate_all("rows => rows.map(r => r.dataset.company)")]
    # The two with a value first, most seats first; the workspace's other companies have none.
    assert ids[:2] == seeded[:2]
    assert [pk for pk in ids if pk in seeded] == seeded
    assert "sort=-cf_seats" in page.url
    expect(page.get_by_label("Order")).to_have_value("-cf_seats")
    # The page does not scroll sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    capture(page, "sales-companies-sorted-by-custom-field")
