"""A marketer sends a campaign to a segment in a real browser over the local SMTP server: the
mail arrives, its tracking pixel and a link are opened, and the report on the open page
follows each over the socket, without a reload. Screenshots of the campaign editor at 375 px
and of the report at 1280 px."""

from __future__ import annotations

import email
import json
import re
import socket
from collections.abc import Iterator
from email.policy import default
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.test import override_settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from tests.conftest import World
from tests.e2e.conftest import DESKTOP, MOBILE, LiveSite, capture, orm, session_key
from tests.marketing.conftest import committed_open_contact_rules
from tests.sales.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

PHONE_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def _make(world: World) -> tuple[list[int], int]:
    from crm_modules.marketing.models import Segment

    with schema_context(world.alpha.tenant.schema_name):
        contacts = [
            ContactFactory.create(
                first_name="Giulia", primary_email="giulia@example.com", lifecycle_stage="customer"
            ).pk,
            ContactFactory.create(
                first_name="", primary_email="anon@example.com", lifecycle_stage="customer"
            ).pk,
        ]
        segment = Segment.objects.create(
            name="Clienti e2e",
            kind="dynamic",
            definition={
                "match": "all",
                "conditions": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"}],
            },
        )
        return contacts, segment.pk


def _clean_up(world: World, contacts: list[int]) -> None:
    from crm_modules.activities.models import Activity
    from crm_modules.marketing.models import Campaign, Segment
    from crm_modules.sales.models import Contact
    from tenants.audit.models import AuditEvent

    with schema_context(world.alpha.tenant.schema_name):
        Campaign.objects.all().delete()
        Segment.objects.all().delete()
        Activity.objects.filter(kind="campaign_email").delete()
        Contact.objects.filter(pk__in=contacts).delete()
        AuditEvent.objects.filter(action__startswith="campaign.").delete()


@pytest.fixture
def made(world: World, live_site: LiveSite) -> Iterator[tuple[list[int], int]]:
    # Sending must not wait for the morning when the suite runs at night (quiet hours).
    rules = committed_open_contact_rules(world.alpha.tenant.schema_name)
    orm(rules.__enter__)
    result = orm(_make, world)
    yield result
    orm(_clean_up, world, result[0])
    orm(rules.__exit__, None, None, None)


@pytest.fixture
def sink() -> Iterator[list[email.message.Message]]:
    from aiosmtpd.controller import Controller

    messages: list[email.message.Message] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            messages.append(email.message_from_bytes(envelope.content, policy=default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(
            MARKETING_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            EMAIL_USE_TLS=False,
            # The test opens the link at once; a person would not be that fast.
            MARKETING_SCANNER_SECONDS=0,
        ):
            yield messages
    finally:
        controller.stop()


def _report_counts(world: World) -> dict[str, int]:
    from crm_modules.marketing.campaigns.selectors import campaign_report
    from crm_modules.marketing.models import Campaign

    with schema_context(world.alpha.tenant.schema_name):
        return campaign_report(campaign=Campaign.objects.get()).counts


def test_a_campaign_reaches_the_segment_and_its_report_follows_opens_and_clicks(
    world: World,
    live_site: LiveSite,
    browser: Browser,
    made: tuple[list[int], int],
    sink: list[email.message.Message],
) -> None:
    _contacts, segment_id = made
    context = browser.new_context(
        viewport=MOBILE, has_touch=True, is_mobile=True, user_agent=PHONE_AGENT
    )
    context.set_default_timeout(20_000)
    host = f"{world.alpha.tenant.slug}.localhost"
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, world.alpha.owner),
        "domain": host,
        "path": "/",
    }
    context.add_cookies([cookie])
    page = context.new_page()
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/marketing/campaigns/")
    page.get_by_test_id("new-campaign").tap()
    page.get_by_label("Name", exact=True).fill("Primavera")
    page.get_by_label("Segment").select_option(str(segment_id))
    page.get_by_label("Subject A").fill('Ciao {{ first_name | default:"amico" }}')
    blocks = [
        {"type": "heading", "text": 'Ciao {{ first_name | default:"amico" }}'},
        {"type": "button", "text": "Scopri", "href": "https://example.com/offerta"},
    ]
    page.get_by_label("Blocks A (JSON)").fill(json.dumps(blocks))
    expect(page.get_by_test_id("block-list-a")).to_be_visible()
    capture(page, "campaign-editor")
    page.get_by_test_id("save-campaign").tap()

    expect(page.get_by_test_id("campaign-status")).to_have_text("Draft")
    page.get_by_test_id("send-campaign").tap()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Sent")
    expect(page.get_by_test_id("count-delivered")).to_have_text("2")

    by_to = {str(m["To"]): m for m in sink}
    assert sorted(by_to) == ["anon@example.com", "giulia@example.com"]
    assert by_to["giulia@example.com"]["Subject"] == "Ciao Giulia"
    assert by_to["anon@example.com"]["Subject"] == "Ciao amico"
    body: Any = by_to["giulia@example.com"]
    html = str(body.get_body(("html",)).get_content())
    pixel = re.search(r'<img src="([^"]+/marketing/t/o/[^"]+)"', html)
    link = re.search(r'href="([^"]+/marketing/t/c/[^"]+)"', html)
    assert pixel is not None
    assert link is not None

    # The report page listens on its socket before the mail is read.
    expect(page.locator("body")).to_have_attribute("data-live", "on")
    # A mark on this document: a reload would lose it.
    page.evaluate("window.sameDocument = true")
    # The recipient's mail client, in another tab of the same phone.
    reader = context.new_page()
    assert reader.goto(pixel.group(1)).status == 200  # type: ignore[union-attr]
    # The open page is not reloaded: the socket brings the new counts.
    expect(page.get_by_test_id("count-opened")).to_contain_text("1 (50.0 %)")
    expect(page.get_by_test_id("count-clicked")).to_contain_text("0 (0.0 %)")
    # Without following the redirect (the browser would leave for example.com). The request
    # context resolves names itself and knows no *.localhost: it goes to the loopback address
    # with the workspace's Host.
    url = urlsplit(link.group(1))
    followed = reader.request.get(
        urlunsplit(url._replace(netloc=f"127.0.0.1:{url.port}")),
        headers={"Host": url.netloc},
        max_redirects=0,
    )
    assert followed.status == 302
    assert followed.headers["location"] == "https://example.com/offerta"
    expect(page.get_by_test_id("count-opened")).to_contain_text("1 (50.0 %)")
    expect(page.get_by_test_id("count-clicked")).to_contain_text("1 (50.0 %)")
    assert page.evaluate("window.sameDocument") is True
    assert orm(_report_counts, world)["clicked"] == 1

    page.set_viewport_size(DESKTOP)
    capture(page, "campaign-report")
    context.close()
