"""A manager sets a quota on a phone (touch, 375 px) and the forecast shows it; the quotas page
and the dashboard with its forecast and sales-cycle charts at phone and desktop widths."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.reporting.compiler import workspace_zone
from crm_modules.reporting.models import Quota
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import World
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, session_key

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


@pytest.fixture
def cleaned(world: World, live_site: LiveSite) -> Iterator[None]:
    schema = world.alpha.tenant.schema_name

    def snapshot() -> int:
        with schema_context(schema):
            return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    event = orm(snapshot)

    def clean_up() -> None:
        with schema_context(schema):
            Quota.objects.all().delete()
            AuditEvent.objects.filter(id__gt=event).delete()

    yield
    orm(clean_up)


def test_a_manager_sets_a_quota_on_a_phone_and_the_forecast_shows_it(
    world: World, live_site: LiveSite, browser: Browser, cleaned: None
) -> None:
    site = live_site.workspace(str(world.alpha.tenant.slug))
    manager = world.alpha.members[Role.MANAGER]
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(15_000)
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, manager),
        "domain": f"{world.alpha.tenant.slug}.localhost",
        "path": "/",
    }
    context.add_cookies([cookie])
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    month = f"{timezone.now().astimezone(workspace_zone(world.alpha.owner)):%Y-%m}"
    page.goto(f"{site}/reporting/quotas/")
    page.get_by_label("Member").select_option(str(manager.user_id))
    page.get_by_label("Month").fill(month)
    page.get_by_label("Quota", exact=True).fill("4321")
    page.get_by_role("button", name="Save quota").tap()
    expect(page.get_by_test_id("quotas")).to_contain_text("4,321.00")
    capture(page, "reporting-quotas")

    page.goto(f"{site}/reporting/")
    forecast = page.locator("#chart-card-forecast .chart-fallback")
    expect(forecast).to_contain_text("4321.00")
    expect(page.locator("#chart-forecast .chart-mount .main-svg").first).to_be_visible()
    expect(page.locator("#chart-sales-cycle .chart-mount .main-svg").first).to_be_visible()
    capture(page, "reporting-dashboard-forecast")
    assert violations == []
    context.close()
