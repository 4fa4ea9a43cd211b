"""A Sales rep schedules their report on a phone (touch, 375 px), sees it listed and pauses it;
the page fits the screen and the strict CSP is not violated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.reporting.models import Report, ReportSchedule
from tenants.audit.models import AuditEvent
from tenants.models import WorkspaceAlarm
from tenants.roles import Role
from tests.conftest import World
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, session_key

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


@pytest.fixture
def report(world: World, live_site: LiveSite) -> Iterator[int]:
    schema = world.alpha.tenant.schema_name
    rep = world.alpha.members[Role.SALES_REP]

    def make() -> tuple[int, int]:
        with schema_context(schema):
            event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
            report_id = Report.objects.create(
                name="Мои сделки", definition={"source": "deals"}, owner=rep.user
            ).pk
        return report_id, event

    report_id, event = orm(make)

    def clean_up() -> None:
        with schema_context(schema):
            Report.objects.filter(pk=report_id).delete()
            AuditEvent.objects.filter(id__gt=event).delete()
        # The schedule's sweep alarm lives in the public schema; later tests expect none.
        WorkspaceAlarm.objects.filter(schema_name=schema, kind="reporting.schedules").delete()

    yield report_id
    orm(clean_up)


def test_a_rep_schedules_a_report_on_a_phone_and_pauses_it(
    world: World, live_site: LiveSite, browser: Browser, report: int
) -> None:
    site = live_site.workspace(str(world.alpha.tenant.slug))
    rep = world.alpha.members[Role.SALES_REP]
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(15_000)
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, rep),
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
    page.goto(f"{site}/reporting/reports/{report}/")
    page.get_by_label("How often").select_option("weekly")
    page.get_by_label("Day of the week (weekly)").select_option("4")
    page.get_by_test_id("schedule-save").tap()
    expect(page.get_by_test_id("schedule-list")).to_contain_text("Weekly")
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    capture(page, "reporting-schedule-phone")
    page.get_by_test_id("schedule-pause").tap()
    expect(page.get_by_test_id("schedule-list")).to_contain_text("paused")

    def stored() -> list[tuple[str, int, list[int], bool]]:
        with schema_context(world.alpha.tenant.schema_name):
            return list(
                ReportSchedule.objects.filter(report_id=report).values_list(
                    "frequency", "weekday", "recipient_ids", "paused"
                )
            )

    assert orm(stored) == [("weekly", 4, [rep.user_id], True)]
    assert violations == []
