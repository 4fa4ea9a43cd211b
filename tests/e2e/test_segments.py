"""A marketer's path in a real browser, at phone width with touch: build a dynamic segment from
the segments page (as JSON, and condition by condition with the builder: customers in Milan with
a lifetime value over 5,000 and no order in 90 days) and see its live count and members.
Screenshots of the segment builder and the segment at 375 and 1280 px."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page
from tests.sales.factories import ContactFactory, DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]
# How long a swap of the builder may take on a loaded machine (a round trip and a count).
SWAP = 15_000


def _make(world: World) -> list[int]:
    from crm_modules.reporting.services.customer_values import customer_values_recompute

    with schema_context(world.alpha.tenant.schema_name):
        made = [
            ContactFactory.create(first_name="Giulia", lifecycle_stage="customer", city="Milano"),
            ContactFactory.create(first_name="Marco", lifecycle_stage="customer", city="Milano"),
            ContactFactory.create(first_name="Luca", lifecycle_stage="lead", city="Roma"),
        ]
        # Giulia bought for 6,000 four months ago; Marco for 6,000 last week.
        for contact, days in ((made[0], 120), (made[1], 7)):
            deal = DealFactory.create(
                status="won", amount=Decimal(6000), closed_at=timezone.now() - timedelta(days=days)
            )
            deal.contacts.add(contact)
        customer_values_recompute()
        return [contact.pk for contact in made]


def _segments(world: World) -> list[tuple[str, str]]:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.marketing.models import Segment

        return list(Segment.objects.values_list("name", "kind"))


def _clean_up(world: World, contacts: list[int]) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.marketing.models import Segment
        from crm_modules.reporting.models import CustomerValue
        from crm_modules.sales.models import Contact, Deal, Pipeline
        from tenants.audit.models import AuditEvent

        Segment.objects.all().delete()
        deals = Deal.objects.filter(contacts__in=contacts)
        # Each deal's factory made its own pipeline: later tests count the workspace's.
        pipelines = set(deals.values_list("pipeline_id", flat=True))
        deals.delete()
        Pipeline.objects.filter(pk__in=pipelines).delete()
        CustomerValue.objects.filter(kind="contact", record_id__in=contacts).delete()
        Contact.objects.filter(pk__in=contacts).delete()
        AuditEvent.objects.filter(action__startswith="segment.").delete()


@pytest.fixture
def contacts(world: World, live_site: LiveSite) -> Iterator[list[int]]:
    made = orm(_make, world)
    yield made
    orm(_clean_up, world, made)


def test_a_marketer_builds_a_segment_and_sees_its_members(
    world: World, live_site: LiveSite, browser: Browser, contacts: list[int]
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/marketing/segments/")
    page.get_by_test_id("new-segment").tap()
    page.get_by_label("Name").fill("Clienti")
    page.get_by_label("Kind").select_option("dynamic")
    definition = {
        "match": "all",
        "conditions": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"}],
    }
    page.get_by_text("The filter as JSON").tap()
    page.get_by_label("Filter (JSON)").fill(json.dumps(definition))
    capture(page, "segment-builder")
    page.get_by_role("button", name="Create segment").tap()

    expect(page.get_by_test_id("segment-count")).to_contain_text("2 contacts")
    members = page.get_by_test_id("segment-members")
    expect(members).to_contain_text("Giulia")
    expect(members).to_contain_text("Marco")
    expect(members).not_to_contain_text("Luca")
    capture(page, "segment-members")
    assert orm(_segments, world) == [("Clienti", "dynamic")]
    page.context.close()


def test_a_marketer_builds_the_milan_segment_condition_by_condition(
    world: World, live_site: LiveSite, browser: Browser, contacts: list[int]
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page.goto(f"{site}/marketing/segments/new/")
    page.get_by_label("Name").fill("Milano, dormienti")
    builder = page.get_by_test_id("segment-builder")
    conditions = builder.get_by_test_id("segment-conditions")

    def settled() -> None:
        # htmx binds the swapped-in select once the swap has settled; a change before that
        # would not be sent.
        busy = page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")
        expect(busy).to_have_count(0, timeout=SWAP)
        page.wait_for_timeout(100)

    def add(condition: str, operator: str, **inputs: str) -> None:
        settled()
        before = conditions.locator("li").count()
        page.locator("#c_field").select_option(condition)
        expect(page.locator("#c_op")).to_be_visible(
            timeout=SWAP
        )  # the builder swapped in its inputs
        page.locator("#c_op").select_option(operator)
        for name, value in inputs.items():
            page.locator(f"#{name}").fill(value)
        page.get_by_test_id("add-condition").tap()
        expect(conditions.locator("li")).to_have_count(before + 1, timeout=SWAP)

    add("city", "eq", c_value="Milano")
    expect(conditions).to_contain_text("City is Milano")
    add("lifetime_value", "gt", c_value="5000")
    add("purchase.last", "not_within_days", c_days="90")

    expect(conditions).to_contain_text("Lifetime value more than 5000")
    expect(conditions).to_contain_text("Purchase (won deal): none in the last 90 days")
    expect(builder.get_by_test_id("segment-preview")).to_contain_text("1 contact matches now")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    capture(page, "segment-builder-conditions")

    # A bad value names the condition; nothing is added.
    settled()
    page.locator("#c_field").select_option("activity_count.call")
    expect(page.locator("#c_count")).to_be_visible(timeout=SWAP)
    page.locator("#c_days").fill("0")
    page.get_by_test_id("add-condition").tap()
    expect(builder.get_by_test_id("condition-error")).to_contain_text(
        "Activities in the last … days (Call): Give a number of days from 1 to 36500.",
        timeout=SWAP,
    )
    expect(conditions.locator("li")).to_have_count(3)

    # RFM segments are chosen with checkboxes.
    settled()
    page.locator("#c_field").select_option("rfm_segment")
    expect(page.get_by_label("Champions")).to_be_visible(timeout=SWAP)
    capture(page, "segment-builder-rfm")
    settled()
    page.locator("#c_field").select_option("")
    expect(page.locator("#c_op")).to_have_count(0, timeout=SWAP)

    page.get_by_role("button", name="Create segment").tap()
    expect(page.get_by_test_id("segment-count")).to_contain_text("1 contact")
    members = page.get_by_test_id("segment-members")
    expect(members).to_contain_text("Giulia")
    expect(members).not_to_contain_text("Marco")
    page.context.close()
