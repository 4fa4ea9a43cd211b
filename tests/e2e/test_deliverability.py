"""An owner's path in a real browser at phone width with touch (ADR 0043): add a sender
domain, read the DNS records to publish, run the check (an HTMX fragment; the test DNS answers
nothing, so the page says so), and see the pause banner with its resume form. Screenshots of
the pages at 375 and 1280 px, none scrolling sideways on a phone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _pause(world: World) -> None:
    from crm_modules.marketing.models_deliverability import DeliverabilityState

    with schema_context(world.alpha.tenant.schema_name):
        DeliverabilityState.objects.update_or_create(
            pk=1,
            defaults={
                "webhook_secret": "e2e",
                "paused_at": timezone.now(),
                "pause_reason": "complaint_rate",
                "pause_figures": {"sent": 2000, "complaints": 5, "bounces": 0},
            },
        )


def _clean_up(world: World) -> None:
    from crm_modules.marketing.models_deliverability import DeliverabilityState, SenderDomain
    from tenants.audit.models import AuditEvent

    with schema_context(world.alpha.tenant.schema_name):
        SenderDomain.objects.all().delete()
        DeliverabilityState.objects.all().delete()
        AuditEvent.objects.filter(action__startswith="marketing.sender_domain").delete()


@pytest.fixture
def clean(world: World, live_site: LiveSite) -> Iterator[None]:
    yield
    orm(_clean_up, world)


def test_an_owner_adds_a_sender_domain_checks_it_and_sees_the_pause(
    world: World, live_site: LiveSite, browser: Browser, clean: None
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/marketing/deliverability/")
    page.get_by_role("textbox", name="Domain").fill("posta.esempio.it")
    capture(page, "sender-domains")
    page.get_by_role("button", name="Add domain").tap()

    expect(page.get_by_test_id("dns-records")).to_contain_text("_domainkey.posta.esempio.it")
    expect(page.get_by_test_id("dns-records")).to_contain_text("v=DMARC1")
    capture(page, "sender-domain")
    page.get_by_test_id("check-domain").tap()
    expect(page.get_by_test_id("domain-checks")).to_contain_text(
        "The DNS servers did not answer; try again later."
    )

    orm(_pause, world)
    page.goto(f"{site}/marketing/deliverability/")
    expect(page.get_by_test_id("pause-banner")).to_contain_text("5 of 2000 campaign messages")
    expect(page.get_by_test_id("resume-form")).to_be_visible()
    capture(page, "deliverability-paused")
    page.context.close()
