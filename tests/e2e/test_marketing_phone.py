"""The sequences, triggers and deliverability pages on a 375 x 740 phone, with content in them
(a long name, a sender domain's DKIM key, the pause notice): nothing scrolls sideways, and each
page's primary action can be scrolled to, is not covered by anything and answers a tap.
Screenshots at 375 px as test artifacts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from tests.conftest import World
from tests.e2e.conftest import SCREENSHOTS, LiveSite, orm, overflowing_elements, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

PHONE = ViewportSize(width=375, height=740)
LONG_NAME = "Benvenuto ai nuovi clienti della primavera — seconda ondata, Lombardia e Piemonte"


def _make(world: World) -> None:
    from crm_modules.marketing.models_deliverability import DeliverabilityState, SenderDomain
    from crm_modules.marketing.models_sequences import Sequence, SequenceStep
    from crm_modules.marketing.models_triggers import TriggerRule

    with schema_context(world.alpha.tenant.schema_name):
        sequence = Sequence.objects.create(
            name=LONG_NAME, status=Sequence.Status.ACTIVE, created_by=world.alpha.owner.user
        )
        SequenceStep.objects.create(
            sequence=sequence, position=1, kind="task", task_title="Chiamare il cliente"
        )
        TriggerRule.objects.create(
            name=LONG_NAME,
            definition={
                "when": {"threshold": {"field": "score", "crosses": "50"}},
                "delay_minutes": 0,
                "actions": [{"type": "add_tag", "tag": "caldo"}],
            },
            listens_to="scoring.score_changed",
            run_as=world.alpha.owner.user,
        )
        SenderDomain.objects.create(
            domain="posta.bottega-rossi-e-figli-distribuzione.example",
            dkim_selector="rapport2026",
            dkim_private_key="-",
            dkim_public_key="MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 8,
        )
        DeliverabilityState.objects.update_or_create(
            pk=1,
            defaults={
                "webhook_secret": "e2e-secret-" + "x" * 40,
                "paused_at": timezone.now(),
                "pause_reason": "complaint_rate",
                "pause_figures": {"sent": 2000, "complaints": 5, "bounces": 0},
            },
        )


def _clean_up(world: World) -> None:
    from crm_modules.marketing.models_deliverability import DeliverabilityState, SenderDomain
    from crm_modules.marketing.models_sequences import Sequence
    from crm_modules.marketing.models_triggers import TriggerRule
    from tenants.audit.models import AuditEvent

    with schema_context(world.alpha.tenant.schema_name):
        AuditEvent.objects.filter(action__startswith="marketing.sender_domain").delete()
        Sequence.objects.all().delete()
        TriggerRule.objects.all().delete()
        SenderDomain.objects.all().delete()
        DeliverabilityState.objects.all().delete()


@pytest.fixture
def made(world: World, live_site: LiveSite) -> Iterator[None]:
    orm(_make, world)
    yield
    orm(_clean_up, world)


def _fits(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-375.png", full_page=True)
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= PHONE["width"], (
        f"{name} overflows at 375 px (scrollWidth {scroll_width}): {overflowing_elements(page)}"
    )


def _reachable(page: Page, action: Locator) -> None:
    """Scrolled to, the action lies inside the screen and is what a finger there touches."""
    action.scroll_into_view_if_needed()
    expect(action).to_be_visible()
    expect(action).to_be_enabled()
    box = action.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= PHONE["height"]
    # A finger needs room: at least 24 px high (WCAG 2.2 target size, minimum).
    assert box["height"] >= 24
    on_top = action.evaluate(
        """(el) => {
          const box = el.getBoundingClientRect();
          const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
          return hit === el || el.contains(hit);
        }"""
    )
    assert on_top, "something covers the primary action"


def test_sequences_triggers_and_deliverability_fit_a_375_px_phone(
    world: World, live_site: LiveSite, browser: Browser, made: None
) -> None:
    page = phone_page(browser, world.alpha.owner)
    page.set_viewport_size(PHONE)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/marketing/sequences/")
    expect(page.get_by_test_id("sequences")).to_contain_text(LONG_NAME)
    _fits(page, "sequences")
    new_sequence = page.get_by_test_id("new-sequence")
    _reachable(page, new_sequence)
    new_sequence.tap()
    expect(page).to_have_url(f"{site}/marketing/sequences/new/")
    _fits(page, "sequence-new")

    page.goto(f"{site}/marketing/triggers/")
    expect(page.get_by_test_id("triggers")).to_contain_text(LONG_NAME)
    _fits(page, "triggers")
    new_trigger = page.get_by_test_id("new-trigger")
    _reachable(page, new_trigger)
    new_trigger.tap()
    expect(page).to_have_url(f"{site}/marketing/triggers/new/")
    expect(page.get_by_test_id("trigger-form")).to_be_visible()
    _fits(page, "trigger-new")

    page.goto(f"{site}/marketing/deliverability/")
    expect(page.get_by_test_id("sender-domains")).to_contain_text("posta.bottega-rossi")
    expect(page.get_by_test_id("pause-card")).to_be_visible()
    _fits(page, "deliverability")
    # The page's first action while bulk sending is paused: resume it.
    resume = page.get_by_test_id("resume-form").get_by_role("button")
    _reachable(page, resume)
    add_domain = page.get_by_test_id("domain-form").get_by_role("button", name="Add domain")
    _reachable(page, add_domain)
    page.get_by_role("textbox", name="Domain").fill("news.rossi.example")
    add_domain.tap()
    expect(page.get_by_test_id("dns-records")).to_contain_text("_domainkey.news.rossi.example")
    _fits(page, "sender-domain-new")
    page.context.close()
