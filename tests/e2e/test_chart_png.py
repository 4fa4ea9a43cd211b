"""Charts download as PNG files in a real browser: a dashboard card (also while a live refresh
swaps the card), a saved report and the builder's preview. Each file is checked to be a PNG
of the exported size, read from its IHDR chunk."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, BrowserContext, Download, Page, expect

from crm_modules.reporting.definition import check_definition
from crm_modules.reporting.models import Report
from crm_modules.sales.models import Deal, Pipeline, Stage
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import World
from tests.e2e.conftest import DESKTOP, MOBILE, LiveSite, orm, session_key

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, which must follow the signature."""
    assert data[:8] == PNG_SIGNATURE, f"not a PNG: {data[:8]!r}"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _check_png(download: Download, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    download.save_as(target)
    data = target.read_bytes()
    assert png_size(data) == (1200, 700)
    # A drawn chart, not an empty canvas: a blank 1200x700 PNG compresses to a few hundred bytes.
    assert 5_000 < len(data) < 5_000_000
    assert download.suggested_filename.endswith(".png")


def _signed_in(browser: Browser, world: World, role: str, *, phone: bool = False) -> BrowserContext:
    if phone:
        context = browser.new_context(
            viewport=MOBILE, has_touch=True, is_mobile=True, accept_downloads=True
        )
    else:
        context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    # The shared machine may be busy: pages and downloads are awaited generously, not timed.
    context.set_default_timeout(60_000)
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, world.alpha.members[role]),
        "domain": f"{world.alpha.tenant.slug}.localhost",
        "path": "/",
    }
    context.add_cookies([cookie])
    return context


def _make(world: World) -> dict[str, int]:
    with schema_context(world.alpha.tenant.schema_name):
        event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        pipeline = Pipeline.objects.create(name="Export", position=98)
        stage = Stage.objects.create(pipeline=pipeline, name="Proposal", position=0)
        deal = Deal.objects.create(
            name="Exported deal",
            pipeline=pipeline,
            stage=stage,
            amount=Decimal("900"),
            currency="USD",
            owner=world.alpha.owner.user,
        )
        definition = check_definition(
            {
                "source": "deals",
                "group_by": [{"field": "stage"}],
                "measures": [{"agg": "count"}],
                "chart": "bar",
            }
        )
        report = Report.objects.create(
            name="Deals by stage — экспорт",
            definition=dict(definition.data),
            owner=world.alpha.owner.user,
        )
        return {"pipeline": pipeline.pk, "deal": deal.pk, "report": report.pk, "event": event}


def _clean_up(world: World, made: dict[str, int]) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Report.objects.filter(pk=made["report"]).delete()
        Deal.objects.filter(pk=made["deal"]).delete()
        Pipeline.objects.filter(pk=made["pipeline"]).delete()
        AuditEvent.objects.filter(id__gt=made["event"]).delete()


@pytest.fixture
def made(world: World, live_site: LiveSite) -> Iterator[dict[str, int]]:
    made = orm(_make, world)
    yield made
    orm(_clean_up, world, made)


def _drawn(page: Page, key: str) -> None:
    expect(page.locator(f"#chart-{key} .chart-mount .main-svg").first).to_be_visible()


def test_a_dashboard_card_downloads_as_png_even_while_it_refreshes(
    world: World, live_site: LiveSite, browser: Browser, made: dict[str, int], tmp_path: Path
) -> None:
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page = _signed_in(browser, world, Role.ADMIN).new_page()
    page.goto(f"{site}/reporting/")
    _drawn(page, "pipeline")
    button = page.locator("#chart-card-pipeline").get_by_test_id("png-download")
    expect(button).to_be_visible()
    expect(button).to_have_text("Download PNG")
    with page.expect_download() as first:
        button.click()
    _check_png(first.value, tmp_path, "pipeline.png")
    assert first.value.suggested_filename == "open-pipeline-by-stage.png"

    # A live refresh swaps the card right after the click: the download still arrives.
    with page.expect_download() as second:
        page.locator("#chart-card-won-revenue").get_by_test_id("png-download").click()
        page.evaluate(
            """() => {
              const card = document.getElementById("chart-card-won-revenue");
              window.htmx.ajax("GET", card.getAttribute("data-chart-url"),
                               {target: card, swap: "outerHTML"});
            }"""
        )
    _check_png(second.value, tmp_path, "won.png")


def test_a_saved_report_and_the_builder_preview_download_as_png_by_touch(
    world: World, live_site: LiveSite, browser: Browser, made: dict[str, int], tmp_path: Path
) -> None:
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page = _signed_in(browser, world, Role.OWNER, phone=True).new_page()
    page.goto(f"{site}/reporting/reports/{made['report']}/")
    _drawn(page, f"report-{made['report']}")
    button = page.get_by_test_id("png-download")
    box = button.bounding_box()
    assert box is not None
    assert box["height"] >= 44
    with page.expect_download() as report:
        button.tap()
    _check_png(report.value, tmp_path, "report.png")

    # The builder opened on a definition (as from a saved report's "edit" link) previews it.
    page.goto(f"{site}/reporting/builder/?source=deals&g0_field=stage&m0=count&chart=bar")
    _drawn(page, "preview")
    with page.expect_download() as preview:
        page.get_by_test_id("preview").get_by_test_id("png-download").tap()
    _check_png(preview.value, tmp_path, "preview.png")
