"""The living style page in a real browser: every kit component at phone and desktop width, in
light and dark colours, under the product's Content-Security-Policy, by touch and by keyboard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from tenants import services
from tenants.handover import handover_token_mint
from tenants.models import Tenant, User, UserSession
from tests.e2e.conftest import (
    DESKTOP,
    MOBILE,
    SCREENSHOTS,
    LiveSite,
    capture,
    orm,
    overflowing_elements,
)
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

TAP = 44
# Everything a finger presses: buttons, links drawn as buttons, navigation links, tabs,
# disclosure summaries and pagination links. Hidden ones (closed dialogs) are skipped.
TARGETS = (
    "button, .button, a.nav-link, [role=tab], summary, .pagination a, "
    ".kanban-card, .language-form select"
)


SLUG = "stylekit"
EMAIL = "owner@stylekit.example.com"


def _workspace_create() -> str:
    """A workspace of the test's own (signing in writes to it), and a one-time token that
    signs its owner in on the workspace host."""
    result = services.workspace_signup(
        company_name="Style Kit Trading",
        slug=SLUG,
        full_name="Nadia Owner",
        email=EMAIL,
        password=PASSWORD,
    )
    return handover_token_mint(user=result.membership.user, tenant=result.tenant)


def _workspace_delete() -> tuple[bool, bool]:
    for tenant in Tenant.objects.filter(slug=SLUG):
        services.workspace_delete(tenant=tenant, actor=None)
    users = User.objects.filter(email=EMAIL)
    UserSession.objects.filter(user_id__in=list(users.values_list("pk", flat=True))).delete()
    users.delete()
    return Tenant.objects.filter(slug=SLUG).exists(), User.objects.filter(email=EMAIL).exists()


@pytest.fixture
def page(committed_spare: Tenant, live_site: LiveSite, browser: Browser) -> Iterator[Page]:
    violations: list[str] = []
    token = orm(_workspace_create)
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(f"script error: {error}"))
    query = urlencode({"token": token, "next": "/style/"})
    response = page.goto(f"{live_site.workspace(SLUG)}/handover/?{query}")
    assert response is not None
    assert response.status == 200
    assert page.url == f"{live_site.workspace(SLUG)}/style/"
    yield page
    context.close()
    assert orm(_workspace_delete) == (False, False)
    assert violations == []


def _small_targets(page: Page) -> list[str]:
    found: list[str] = page.evaluate(
        """([selector, tap]) => {
          const out = [];
          for (const el of document.querySelectorAll(selector)) {
            const box = el.getBoundingClientRect();
            const style = getComputedStyle(el);
            if (!box.width || !box.height || style.visibility === "hidden") continue;
            if (box.height < tap - 0.5) {
              out.push(`${el.tagName.toLowerCase()}.${String(el.className).trim()}`
                + ` "${el.textContent.trim().slice(0, 30)}" ${Math.round(box.height)}px`);
            }
          }
          return out;
        }""",
        [TARGETS, TAP],
    )
    return found


def test_style_page_fits_a_phone_with_touch_sized_targets(page: Page) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Interface components")
    # Plotly (served from the plotly package) draws the chart under the CSP; the data table
    # folds away behind its summary.
    expect(page.locator("#style-chart .chart-mount svg.main-svg").first).to_be_visible()
    expect(page.locator("#style-chart details.chart-fallback")).not_to_have_attribute("open", "")
    # Both widths and both colour schemes; capture() also fails on sideways scrolling at 375 px.
    capture(page, "style")
    page.emulate_media(color_scheme="dark")
    capture(page, "style-dark")
    page.emulate_media(color_scheme="light")

    for size in (DESKTOP, MOBILE):
        page.set_viewport_size(size)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= size["width"], overflowing_elements(page)
    assert _small_targets(page) == []

    # The navigation is a drawer on a phone: the menu button opens it, Escape closes it and
    # gives focus back to the button.
    nav = page.get_by_role("navigation", name="Workspace")
    toggle = page.get_by_role("button", name="Menu", exact=True)
    expect(nav.get_by_role("link", name="Home")).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Home")).to_be_visible()
    expect(nav.get_by_role("link", name="Home")).to_be_focused()
    assert _small_targets(page) == []
    page.screenshot(path=SCREENSHOTS / "style-drawer-375.png", animations="disabled")
    # The page behind the open drawer is inert: Tab never lands in it.
    for _ in range(10):
        page.keyboard.press("Tab")
        assert page.evaluate("!document.activeElement.closest('#main')")
    page.keyboard.press("Escape")
    expect(nav.get_by_role("link", name="Home")).to_be_hidden()
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")


def test_keyboard_reaches_the_navigation_and_escape_closes_dialogs(page: Page) -> None:
    page.set_viewport_size(DESKTOP)
    nav = page.get_by_role("navigation", name="Workspace")
    expect(nav.locator("[aria-current=page]")).to_have_count(0)  # /style/ is not in the menu

    page.locator("body").focus()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('nav[aria-label=Workspace]')"):
            break
    else:
        raise AssertionError("Tab never reached the workspace navigation")
    expect(nav.get_by_role("link", name="Home")).to_be_focused()

    # The confirmation dialog names its target; Escape closes it and nothing is sent.
    page.get_by_test_id("open-confirm").click()
    dialog = page.locator("#style-confirm")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Deactivate สมชาย ใจดี?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert "confirmed" not in page.url
    # Cancel closes it too; only the confirm button sends the form.
    page.get_by_test_id("open-confirm").click()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert "confirmed" not in page.url
    page.get_by_test_id("open-confirm").click()
    dialog.get_by_role("button", name="Deactivate").click()
    expect(page).to_have_url(re.compile(r"[?&]confirmed=1"))


def test_side_sheet_and_tabs_by_keyboard(page: Page) -> None:
    sheet = page.locator("#style-sheet")
    for size in (DESKTOP, MOBILE):
        page.set_viewport_size(size)
        page.get_by_test_id("open-sheet").click()
        expect(sheet).to_be_visible()
        sheet_box = sheet.bounding_box()
        assert sheet_box is not None
        # From the right edge; the whole width on a phone.
        assert sheet_box["x"] + sheet_box["width"] == pytest.approx(size["width"], abs=1)
        if size == MOBILE:
            assert sheet_box["width"] == pytest.approx(size["width"], abs=1)
        page.screenshot(path=SCREENSHOTS / f"style-sheet-{size['width']}.png")
        page.keyboard.press("Escape")
        expect(sheet).to_be_hidden()
    page.get_by_test_id("open-confirm").click()
    page.screenshot(path=SCREENSHOTS / "style-confirm-375.png")
    page.keyboard.press("Escape")
    page.set_viewport_size(DESKTOP)

    tabs = page.get_by_role("tablist", name="Record sections")
    first = tabs.get_by_role("tab", name="Overview")
    second = tabs.get_by_role("tab").nth(1)
    expect(first).to_have_attribute("aria-selected", "true")
    expect(page.locator("#style-tabs-panel-activity")).to_be_hidden()
    first.focus()
    page.keyboard.press("ArrowRight")
    expect(second).to_be_focused()
    expect(second).to_have_attribute("aria-selected", "true")
    expect(first).to_have_attribute("aria-selected", "false")
    expect(page.locator("#style-tabs-panel-activity")).to_be_visible()
    expect(page.locator("#style-tabs-panel-overview")).to_be_hidden()
    # End skips the disabled tab; Home goes back to the first.
    page.keyboard.press("End")
    expect(tabs.get_by_role("tab").nth(2)).to_be_focused()
    page.keyboard.press("Home")
    expect(first).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(tabs.get_by_role("tab").nth(2)).to_be_focused()
