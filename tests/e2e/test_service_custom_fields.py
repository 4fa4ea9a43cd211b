"""Ticket custom fields on a touch phone at 375 px: a customer fills them on the portal's
new-request form and a visitor on the web form (each input inside the screen and a full tap
target, a missing required one refused by name, the values stored); an agent shows them as
inbox columns (``cols=``) chosen by touch, and sees which tickets still need a required field
before they can be solved. Nothing scrolls sideways; screenshots at 375 and 1280 px."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from crm_modules.sales import services as sales_services
from crm_modules.sales.models import Contact, ContactEmail, CustomField
from crm_modules.service import services
from crm_modules.service.models import PortalSession, Ticket
from crm_modules.service.services import portal
from tenants.models import Membership, UserSession
from tenants.roles import Role
from tests.conftest import World
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, phone_page
from tests.sales.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

EMAIL = "olga.ivanova@example.ru"
LONG_OPTION = "Abrechnungsmodulkonfigurationsassistentversionzwei"  # a 50-character word
THAI_OPTION = "ระบบบัญชีขององค์กรสำหรับลูกค้าองค์กรขนาดใหญ่"
TAP = 44


def _make(world: World) -> dict[str, Any]:
    with schema_context(world.alpha.tenant.schema_name):
        owner = Membership.objects.select_related("tenant", "user").get(pk=world.alpha.owner.pk)
        for code, label, kind, options, required, visible in (
            ("order", "Номер заказа", "text", None, True, True),
            ("product", "产品", "select", [THAI_OPTION, LONG_OPTION, "Kasse"], False, True),
            ("visit", "Data della visita", "date", None, False, True),
            ("cause", "Cause", "select", ["bug", "billing"], True, False),
        ):
            sales_services.custom_field_create(
                actor=owner, entity="ticket", code=code, label=label, type=kind, options=options,
                required=required, customer_visible=visible,
                help_text="Siehe Rechnung" if code == "order" else "",
            )  # fmt: skip
        olga = ContactFactory.create(first_name="Ольга", last_name="Иванова", primary_email=EMAIL)
        ContactEmail.objects.create(contact=olga, email=EMAIL, is_primary=True)
        token = secrets.token_urlsafe(32)
        PortalSession.objects.create(
            contact=olga,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            expires_at=timezone.now() + datetime.timedelta(days=1),
        )
        return {"token": token, "contact": olga.pk}


def _tickets(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    with schema_context(world.alpha.tenant.schema_name):
        return list(Ticket.objects.order_by("id").values_list("subject", "channel", "custom"))


def _clean_up(world: World, sessions: set[str], last_seen: Any) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities import api as timeline
        from crm_modules.activities.models import Activity
        from crm_modules.service.models import BusinessHours, SlaPolicy
        from tenants.audit.models import AuditEvent

        Ticket.objects.all().delete()
        PortalSession.objects.all().delete()
        SlaPolicy.objects.all().delete()
        BusinessHours.objects.all().delete()
        CustomField.objects.filter(entity="ticket").delete()
        Contact.objects.all().delete()
        Activity.objects.all().delete()
        timeline.activity_days_rebuild()
        for prefix in ("ticket.", "portal.", "custom_field.", "contact."):
            AuditEvent.objects.filter(action__startswith=prefix).delete()
    UserSession.objects.exclude(session_key__in=sessions).delete()
    Membership.objects.filter(pk=world.alpha.owner.pk).update(last_seen_at=last_seen)


@pytest.fixture
def made(world: World, live_site: LiveSite) -> Iterator[dict[str, Any]]:
    sessions = orm(lambda: set(UserSession.objects.values_list("session_key", flat=True)))
    last_seen = orm(
        lambda: Membership.objects.values_list("last_seen_at", flat=True).get(
            pk=world.alpha.owner.pk
        )
    )
    try:
        yield orm(_make, world)
    finally:
        orm(_clean_up, world, sessions, last_seen)


def _touch_page(browser: Browser) -> Page:
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(15_000)
    return context.new_page()


def _assert_touchable(page: Page, selectors: list[str]) -> None:
    """Each control lies inside the 375 px screen and is at least a finger high."""
    for selector in selectors:
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0, (selector, box)
        assert box["x"] + box["width"] <= MOBILE["width"], (selector, box)
        assert box["height"] >= TAP, (selector, box)


CUSTOMER_INPUTS = ["#cf_order", "#cf_product", "#cf_visit"]


def test_a_customer_fills_ticket_fields_on_the_portal_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, made: dict[str, Any]
) -> None:
    page = _touch_page(browser)
    slug = str(world.alpha.tenant.slug)
    cookie: Any = {
        "name": portal.COOKIE_NAME, "value": made["token"], "domain": f"{slug}.localhost",
        "path": "/",
    }  # fmt: skip
    page.context.add_cookies([cookie])
    site = live_site.workspace(slug)

    page.goto(f"{site}/portal/tickets/new/")
    form = page.get_by_test_id("portal-ticket-form")
    expect(form.get_by_label("Номер заказа")).to_be_visible()
    # The member's field is not the customer's to fill.
    expect(page.locator("#cf_cause")).to_have_count(0)
    _assert_touchable(page, ["#subject", "#description", *CUSTOMER_INPUTS])
    capture(page, "service-portal-new-request-fields")

    page.locator("#subject").tap()
    page.locator("#subject").fill("Заказ не пришёл")
    page.locator("#description").fill("Где мой заказ? 我的订单在哪里？")
    page.locator("#cf_product").select_option(LONG_OPTION)
    form.get_by_role("button", name="Send").tap()
    # Refused by name, with what was written kept.
    expect(page.get_by_test_id("error-custom")).to_contain_text("Номер заказа")
    expect(page.locator("#subject")).to_have_value("Заказ не пришёл")
    expect(page.locator("#cf_product")).to_have_value(LONG_OPTION)
    capture(page, "service-portal-new-request-fields-error")
    assert orm(_tickets, world) == []

    page.locator("#cf_order").tap()
    page.locator("#cf_order").fill("ЗК-2026/17")
    page.locator("#cf_visit").fill("2026-12-24")
    page.get_by_test_id("portal-ticket-form").get_by_role("button", name="Send").tap()

    expect(page.get_by_test_id("portal-ticket-subject")).to_contain_text("Заказ не пришёл")
    assert orm(_tickets, world) == [
        (
            "Заказ не пришёл",
            "portal",
            {"order": "ЗК-2026/17", "product": LONG_OPTION, "visit": "2026-12-24"},
        )
    ]
    page.context.close()


def test_a_visitor_fills_ticket_fields_on_the_web_form_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, made: dict[str, Any]
) -> None:
    page = _touch_page(browser)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/service/form/")
    form = page.get_by_test_id("ticket-form")
    expect(form.get_by_label("产品")).to_be_visible()
    expect(page.locator("#cf_cause")).to_have_count(0)
    _assert_touchable(page, ["#id_name", "#id_email", "#id_subject", *CUSTOMER_INPUTS])
    capture(page, "service-web-form-fields")

    form.get_by_label("Your name").fill("สมชาย ใจดี")
    form.get_by_label("Your email").fill("somchai@example.co.th")
    form.get_by_label("Subject").fill("ใบแจ้งหนี้ผิด")
    form.get_by_label("Message").fill("ยอดเงินซ้ำสองครั้ง")
    page.locator("#cf_product").select_option(THAI_OPTION)
    form.get_by_role("button", name="Send").tap()
    expect(form).to_contain_text("Номер заказа")
    expect(page.locator("#cf_product")).to_have_value(THAI_OPTION)
    assert orm(_tickets, world) == []

    page.locator("#cf_order").tap()
    page.locator("#cf_order").fill("INV-๒๕๖๙-7")
    page.get_by_test_id("ticket-form").get_by_role("button", name="Send").tap()

    expect(page.get_by_test_id("ticket-form-sent")).to_be_visible()
    assert orm(_tickets, world) == [
        ("ใบแจ้งหนี้ผิด", "web", {"order": "INV-๒๕๖๙-7", "product": THAI_OPTION})
    ]
    page.context.close()


def _seed_inbox(world: World) -> list[int]:
    with schema_context(world.alpha.tenant.schema_name):
        agent = Membership.objects.select_related("tenant", "user").get(
            pk=world.alpha.members[Role.SUPPORT_AGENT].pk
        )
        filled = services.ticket_create(
            actor=agent,
            subject="Kasse druckt nicht",
            custom_fields={"order": LONG_OPTION, "product": THAI_OPTION, "cause": "bug"},
        )
        # As from email: nobody could be asked the required fields.
        empty = services.ticket_create(actor=agent, subject="Письмо без номера заказа")
        return [filled.pk, empty.pk]


def test_an_agent_shows_custom_columns_in_the_inbox_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, made: dict[str, Any]
) -> None:
    filled, empty = orm(_seed_inbox, world)
    page = phone_page(browser, world.alpha.members[Role.SUPPORT_AGENT])
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/service/?view=all")
    choose = page.get_by_test_id("choose-columns")
    summary = page.locator("details", has=choose).locator("summary")
    assert (summary.bounding_box() or {"height": 0})["height"] >= TAP
    summary.tap()
    for label in choose.locator("label.field-check").all():
        assert (label.bounding_box() or {"height": 0})["height"] >= TAP
    choose.get_by_label("Номер заказа").tap()
    choose.get_by_label("产品").tap()
    choose.get_by_role("button", name="Show").tap()

    expect(page).to_have_url(f"{site}/service/?view=all&cols=order&cols=product")
    rows = page.get_by_test_id("tickets")
    full = rows.locator(f'tr[data-ticket="{filled}"]')
    expect(full.locator('[data-column="order"]')).to_have_text(LONG_OPTION)
    expect(full.locator('[data-column="product"]')).to_have_text(THAI_OPTION)
    expect(full.get_by_test_id("needs-fields")).to_have_count(0)
    # The ticket that came without its required fields says so on the phone too.
    expect(
        rows.locator(f'tr[data-ticket="{empty}"]').get_by_test_id("needs-fields")
    ).to_be_visible()
    cell = full.locator('[data-column="order"]').bounding_box()
    assert cell is not None
    assert cell["x"] + cell["width"] <= MOBILE["width"]
    capture(page, "service-inbox-custom-columns")

    # The ticket page names the fields to fill before it can be solved.
    rows.get_by_role("link", name="Письмо без номера заказа").tap()
    expect(page.get_by_test_id("needs-fields")).to_contain_text("Номер заказа")
    expect(page.get_by_test_id("needs-fields")).to_contain_text("Cause")
    capture(page, "service-ticket-needs-fields")
    page.context.close()
