"""On a phone (375 px, touch): an owner uploads the workspace logo from the settings page; it
shows in the header for another member of the workspace and not in another workspace; the
owner replaces and removes it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from crm_platform import s3
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Tenant
from tenants.roles import Role
from tests.conftest import World
from tests.documents.conftest import s3_bucket
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, session_key
from tests.ops.conftest import s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]


def _png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _clean_up(world: World) -> None:
    Tenant.objects.filter(pk=world.alpha.tenant.pk).update(logo_key="")
    with schema_context(world.alpha.tenant.schema_name):
        AuditEvent.objects.filter(action__startswith="settings.logo").delete()


@pytest.fixture
def logo_cleared(world: World, live_site: LiveSite) -> Iterator[None]:
    yield
    orm(_clean_up, world)


def _phone(browser: Browser, membership: Membership) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(30_000)
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, membership),
        "domain": f"{membership.tenant.slug}.localhost",
        "path": "/",
    }
    context.add_cookies([cookie])
    return context, context.new_page()


def _logo_loaded(page: Page) -> int:
    page.wait_for_function(
        "() => { const img = document.querySelector('[data-testid=workspace-logo]');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    width: int = page.get_by_test_id("workspace-logo").evaluate("img => img.naturalWidth")
    return width


@pytest.mark.usefixtures("logo_cleared")
def test_an_owner_sets_the_logo_on_a_phone_and_members_see_it(
    world: World, live_site: LiveSite, browser: Browser
) -> None:
    alpha_site = live_site.workspace(str(world.alpha.tenant.slug))
    context, page = _phone(browser, world.alpha.owner)
    page.goto(f"{alpha_site}/settings/")
    panel = page.get_by_test_id("logo-settings")
    expect(page.get_by_test_id("workspace-logo")).to_have_count(0)
    panel.get_by_test_id("logo-input").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": _png("red")}
    )
    # The page reloads once the logo is verified.
    expect(panel.get_by_test_id("logo-remove")).to_be_visible()
    assert _logo_loaded(page) == 64
    capture(page, "workspace-logo-settings")
    first_key = orm(lambda: Tenant.objects.get(pk=world.alpha.tenant.pk).logo_key)

    member_context, member_page = _phone(browser, world.alpha.members[Role.SALES_REP])
    member_page.goto(f"{alpha_site}/")
    assert _logo_loaded(member_page) == 64
    member_context.close()

    other_context, other_page = _phone(browser, world.bravo.owner)
    other_page.goto(f"{live_site.workspace(str(world.bravo.tenant.slug))}/")
    expect(other_page.get_by_test_id("current-workspace")).to_be_visible()
    expect(other_page.get_by_test_id("workspace-logo")).to_have_count(0)
    other_context.close()

    page.get_by_test_id("logo-settings").get_by_test_id("logo-input").set_input_files(
        {"name": "logo2.png", "mimeType": "image/png", "buffer": _png("blue")}
    )
    page.wait_for_function(
        "key => !document.querySelector('[data-testid=workspace-logo]').src.endsWith(key)",
        arg=first_key[-41:],
    )
    assert _logo_loaded(page) == 64
    second_key = orm(lambda: Tenant.objects.get(pk=world.alpha.tenant.pk).logo_key)
    assert second_key != first_key

    page.get_by_test_id("logo-remove").tap()
    page.locator("dialog[open]").get_by_role("button", name="Remove").tap()
    expect(page.get_by_test_id("workspace-logo")).to_have_count(0)
    context.close()

    assert orm(lambda: Tenant.objects.get(pk=world.alpha.tenant.pk).logo_key) == ""
    schema = world.alpha.tenant.schema_name
    assert [o["key"] for o in orm(s3.workspace_objects, schema_name=schema)] == []

    def actions() -> list[str]:
        with schema_context(schema):
            return list(
                AuditEvent.objects.filter(action__startswith="settings.logo")
                .order_by("pk")
                .values_list("action", flat=True)
            )

    assert orm(actions) == [
        "settings.logo_changed",
        "settings.logo_changed",
        "settings.logo_removed",
    ]
