"""Adding a product to a deal in a real browser on a touch phone, from a catalogue larger than
the picker lists at once: typing part of a name narrows the product select without reloading
the page, the found product is added with a tap, and the deal's amount follows. Screenshot at
375 and 1280 px."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.sales.selectors import PRODUCT_CHOICES
from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page
from tests.sales.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]
SWAP = 15_000


def _make(world: World) -> dict[str, Any]:
    from crm_modules.sales.models import Product

    with schema_context(world.alpha.tenant.schema_name):
        fillers = Product.objects.bulk_create(
            Product(name=f"Articolo {n:04d}", unit_price=1, currency="USD")
            for n in range(PRODUCT_CHOICES * 4)
        )
        # Sorted after every filler by name: not among the options until searched.
        wanted = Product.objects.create(
            name="Zaino da viaggio", sku="ZV-1", unit_price=Decimal("75.00"), currency="USD"
        )
        deal = DealFactory.create(
            name="Ordine negozio", owner=world.alpha.owner.user, currency="USD"
        )
        return {"products": [wanted.pk, *(p.pk for p in fillers)], "deal": deal.pk}


def _clean_up(world: World, made: dict[str, Any]) -> None:
    from crm_modules.activities.models import Activity
    from crm_modules.sales.models import Deal, Pipeline, Product
    from tenants.audit.models import AuditEvent

    with schema_context(world.alpha.tenant.schema_name):
        deal = Deal.objects.get(pk=made["deal"])
        pipeline = deal.pipeline_id
        deal.delete()
        Pipeline.objects.filter(pk=pipeline).delete()
        Product.objects.filter(pk__in=made["products"]).delete()
        Activity.objects.all().delete()
        AuditEvent.objects.filter(action__startswith="deal.").delete()


@pytest.fixture
def catalogue(world: World, live_site: LiveSite) -> Iterator[dict[str, Any]]:
    # The sign-in's session and last-seen time are undone by ``live_site`` itself.
    made = orm(_make, world)
    yield made
    orm(_clean_up, world, made)


def test_a_rep_finds_and_adds_a_product_on_a_phone(
    world: World, live_site: LiveSite, browser: Browser, catalogue: dict[str, Any]
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page.goto(f"{site}/sales/deals/{catalogue['deal']}/")
    select = page.locator("#li-product")
    expect(select.locator("option:not([disabled])")).to_have_count(PRODUCT_CHOICES)
    expect(select).not_to_contain_text("Zaino")

    url = page.url
    page.locator("#li-product-q").press_sequentially("zaino")
    expect(select.locator("option")).to_have_text(
        ["Zaino da viaggio (ZV-1) · 75.00 USD"], timeout=SWAP
    )
    assert page.url == url
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    capture(page, "deal-line-item-picker")

    page.locator("#li-quantity").fill("2")
    page.get_by_test_id("add-line-item").get_by_role("button", name="Add").tap()
    expect(page.get_by_text("Line items saved.")).to_be_visible()
    expect(page.locator("table")).to_contain_text("150.00")

    # Enter in the search box narrows the options too; it does not add anything.
    page.locator("#li-product-q").fill("articolo 0199")
    page.locator("#li-product-q").press("Enter")
    expect(select.locator("option")).to_have_text(["Articolo 0199 · 1.00 USD"], timeout=SWAP)
    expect(page.locator("table tbody tr")).to_have_count(1)
