"""Live fragments: a change committed anywhere reaches an open page over the socket, which
re-emits it as a DOM event that an HTMX fragment listens to; after a dropped connection the
page reconnects and the fragment catches up on what it missed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, WebSocketRoute, expect

from tests.conftest import World
from tests.e2e.conftest import DESKTOP, LiveSite, orm, session_key
from tests.kit_module import services
from tests.kit_module.models import Note

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _note_create(world: World) -> int:
    with schema_context(world.alpha.tenant.schema_name):
        return Note.objects.create(title="Before", owner=world.alpha.owner.user).pk


def _rename(world: World, note_id: int, title: str) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        note = Note.objects.get(pk=note_id)
        services.note_rename(actor=world.alpha.owner, note=note, title=title)


def _clean_up(world: World, note_id: int) -> None:
    """Put back what the committed visit changed, for the tests that follow."""
    with schema_context(world.alpha.tenant.schema_name):
        Note.objects.filter(pk=note_id).delete()


@pytest.fixture
def note(world: World, live_site: LiveSite) -> Iterator[int]:
    note_id = orm(_note_create, world)
    yield note_id
    orm(_clean_up, world, note_id)


def test_a_fragment_follows_live_events_and_catches_up_after_a_drop(
    world: World, live_site: LiveSite, browser: Browser, note: int
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    violations: list[str] = []
    page = context.new_page()
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    host = f"{world.alpha.tenant.slug}.localhost"
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, world.alpha.owner),
        "domain": host,
        "path": "/",
    }
    context.add_cookies([cookie])
    # Sockets pass through a route the test controls, so it can drop the connection and keep
    # the page from reconnecting until a change has been missed.
    sockets: list[Any] = []
    accepting = [True]

    def route(ws: WebSocketRoute) -> None:
        if not accepting[0]:
            ws.close(code=1001)
            return
        sockets.append((ws, ws.connect_to_server()))

    page.route_web_socket("**/ws/notifications/", route)
    page.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}/notes/")
    item = page.locator(f'[data-note="{note}"]')
    expect(item).to_have_text("Before")
    expect(page.locator("body")).to_have_attribute("data-live", "on")

    orm(_rename, world, note, "Live")
    expect(item).to_have_text("Live")

    # The connection drops; a change made meanwhile is caught up once it is back.
    accepting[0] = False
    page_side, server_side = sockets[-1]
    server_side.close()
    page_side.close(code=1001)
    expect(page.locator("body")).to_have_attribute("data-live", "off")
    orm(_rename, world, note, "While away")
    page.wait_for_timeout(500)
    expect(item).to_have_text("Live")
    accepting[0] = True
    expect(page.locator("body")).to_have_attribute("data-live", "on", timeout=20_000)
    expect(item).to_have_text("While away")
    context.close()
    assert violations == []
