"""An admin, at phone width with touch, adds an SLA policy for gold customers with its own
hours and targets, moves it in the order policies are tried, and gives a policy its own
escalation (ADR 0061). Screenshots at 375 and 1280 px (nothing scrolls sideways at 375)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.service.models import BusinessHours, SlaEscalation, SlaPolicy
from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _policies(world: World) -> list[tuple[str, list[str], str]]:
    with schema_context(world.alpha.tenant.schema_name):
        return [
            (p.name, p.tiers, p.hours.time_zone)
            for p in SlaPolicy.objects.filter(is_default=False)
            .select_related("hours")
            .order_by("position", "id")
        ]


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from tenants.audit.models import AuditEvent

        SlaPolicy.objects.all().delete()
        BusinessHours.objects.all().delete()
        AuditEvent.objects.filter(action="sla.changed").delete()


@pytest.fixture
def cleaned(world: World, live_site: LiveSite) -> Iterator[None]:
    yield
    orm(_clean_up, world)


def test_an_admin_adds_and_orders_sla_policies_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, cleaned: None
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/service/sla/")
    page.get_by_test_id("sla-policies-link").tap()
    expect(page.get_by_role("heading", name="SLA policies", exact=True)).to_be_visible()
    for name, tier in (("Золото 金", "gold"), ("Silver", "silver")):
        form = page.get_by_test_id("policy-form")
        form.get_by_label("Name").fill(name)
        form.get_by_label("Customer tiers").fill(tier)
        form.get_by_label("Time zone").select_option("Asia/Bangkok")
        form.get_by_label("Urgent: Next response").fill("30")
        if tier == "silver":
            capture(page, "service-sla-policy-new")
        form.get_by_role("button", name="Save policy").tap()
        expect(page.get_by_test_id("sla-policies")).to_contain_text(name)
    assert orm(_policies, world) == [
        ("Золото 金", ["gold"], "Asia/Bangkok"),
        ("Silver", ["silver"], "Asia/Bangkok"),
    ]
    capture(page, "service-sla-policies")

    page.get_by_role("button", name="Move Silver up").tap()
    expect(page.get_by_test_id("sla-policies").locator("li").first).to_contain_text("Silver")
    assert [name for name, _tiers, _zone in orm(_policies, world)] == ["Silver", "Золото 金"]

    # Silver's own escalation, on its page.
    page.get_by_test_id("sla-policies").get_by_role("link", name="Silver").tap()
    form = page.get_by_test_id("escalation-form")
    form.get_by_label("Target").select_option("next_response")
    form.get_by_label("Action").select_option("raise_priority")
    form.get_by_role("button", name="Add escalation").tap()
    expect(page.get_by_test_id("escalations")).to_contain_text("Next response")
    capture(page, "service-sla-policy-escalations")
    assert orm(_escalations, world) == [("Silver", "next_response", "raise_priority")]
    page.context.close()


def _escalations(world: World) -> list[tuple[str, str, str]]:
    with schema_context(world.alpha.tenant.schema_name):
        return [
            (e.policy.name, e.target, e.action)
            for e in SlaEscalation.objects.select_related("policy").order_by("id")
        ]
