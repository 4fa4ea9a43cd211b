"""Dragging a deal across the kanban board in a real browser: with a mouse at desktop width and
with a finger (touch events) at 375 px. The drop submits the card's move form, so the deal's
stage and its stage history change on the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, BrowserContext, Page, expect

from crm_modules.activities import api as timeline
from crm_modules.sales.models import Deal, DealStageChange, Pipeline
from tests.conftest import World
from tests.e2e.conftest import DESKTOP, MOBILE, LiveSite, capture, orm, session_key
from tests.sales.factories import DealFactory, PipelineFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _make(world: World) -> tuple[int, int, int]:
    with schema_context(world.alpha.tenant.schema_name):
        pipeline = PipelineFactory.create(name="Board drag")
        deal = DealFactory.create(
            pipeline=pipeline, name="Dragged deal", owner=world.alpha.owner.user
        )
        return pipeline.pk, deal.pk, pipeline.stages.get(position=1).pk


def _deal_state(world: World, deal_id: int) -> tuple[int, list[int]]:
    with schema_context(world.alpha.tenant.schema_name):
        deal = Deal.objects.get(pk=deal_id)
        changes = list(
            DealStageChange.objects.filter(deal=deal)
            .order_by("id")
            .values_list("to_stage", flat=True)
        )
        return deal.stage_id, changes


def _clean_up(world: World, pipeline_id: int) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities.models import Activity
        from tenants.audit.models import AuditEvent

        Deal.objects.filter(pipeline_id=pipeline_id).delete()
        Pipeline.objects.filter(pk=pipeline_id).delete()
        Activity.objects.all().delete()
        # The per-day rollup follows the timeline's own writes, not a bulk delete.
        timeline.activity_days_rebuild()
        AuditEvent.objects.filter(action__startswith="deal.").delete()


@pytest.fixture
def board(world: World, live_site: LiveSite) -> Iterator[tuple[int, int, int]]:
    made = orm(_make, world)
    yield made
    orm(_clean_up, world, made[0])


def _open(
    browser: Browser, world: World, live_site: LiveSite, pipeline_id: int, **options: Any
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    host = f"{world.alpha.tenant.slug}.localhost"
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, world.alpha.owner),
        "domain": host,
        "path": "/",
    }
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(
        f"{live_site.workspace(str(world.alpha.tenant.slug))}/sales/deals/?pipeline={pipeline_id}"
    )
    return context, page


def _centre(page: Page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_a_deal_is_dragged_to_another_stage_with_the_mouse(
    world: World, live_site: LiveSite, browser: Browser, board: tuple[int, int, int]
) -> None:
    pipeline_id, deal_id, target = board
    context, page = _open(browser, world, live_site, pipeline_id, viewport=DESKTOP)
    handle = f'[data-deal="{deal_id}"] [data-drag-handle]'
    x, y = _centre(page, handle)
    tx, ty = _centre(page, f'section[data-stage="{target}"] h2')
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move((x + tx) / 2, (y + ty) / 2, steps=5)
    page.mouse.move(tx, ty, steps=5)
    with page.expect_navigation():
        page.mouse.up()
    expect(page.locator(f'section[data-stage="{target}"] [data-deal="{deal_id}"]')).to_be_visible()
    stage, history = orm(_deal_state, world, deal_id)
    assert stage == target
    assert history[-1] == target
    capture(page, "deal-board-after-drag")
    context.close()


def test_a_deal_is_dragged_to_another_stage_by_touch_on_a_phone(
    world: World, live_site: LiveSite, browser: Browser, board: tuple[int, int, int]
) -> None:
    pipeline_id, deal_id, target = board
    context, page = _open(
        browser, world, live_site, pipeline_id, viewport=MOBILE, has_touch=True, is_mobile=True
    )
    handle = f'[data-deal="{deal_id}"] [data-drag-handle]'
    page.locator(handle).scroll_into_view_if_needed()
    x, y = _centre(page, handle)
    tx, ty = _centre(page, f'section[data-stage="{target}"] h2')
    assert 0 < ty < MOBILE["height"], "the target column is on screen"
    cdp = context.new_cdp_session(page)

    def touch(kind: str, px: float, py: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": px, "y": py, "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", x, y)
    for step in range(1, 6):
        touch("touchMove", x + (tx - x) * step / 5, y + (ty - y) * step / 5)
    with page.expect_navigation():
        touch("touchEnd", tx, ty)
    expect(page.locator(f'section[data-stage="{target}"] [data-deal="{deal_id}"]')).to_be_visible()
    stage, history = orm(_deal_state, world, deal_id)
    assert stage == target
    assert history[-1] == target
    context.close()


def test_the_new_sales_pages_fit_a_phone_and_a_desktop(
    world: World, live_site: LiveSite, browser: Browser, board: tuple[int, int, int]
) -> None:
    pipeline_id, deal_id, _target = board
    context, page = _open(browser, world, live_site, pipeline_id, viewport=MOBILE, has_touch=True)
    base = live_site.workspace(str(world.alpha.tenant.slug))
    for name, path in (
        ("home", "/"),
        ("deal-list", "/sales/deals/list/?sort=-amount"),
        ("deal-detail", f"/sales/deals/{deal_id}/"),
        ("pipeline-admin", "/sales/pipelines/"),
        ("pipeline-edit", f"/sales/pipelines/{pipeline_id}/"),
        ("products", "/sales/products/"),
        ("product-new", "/sales/products/new/"),
        ("contacts-with-tools", "/sales/contacts/"),
    ):
        response = page.goto(base + path)
        assert response is not None
        assert response.status == 200, path
        if name == "home":
            expect(page.get_by_test_id("pipeline-glance").locator("meter").first).to_be_visible()
        capture(page, f"sales-{name}")
    context.close()
