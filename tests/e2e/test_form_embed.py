"""The embeddable form on another site, in a real browser: a marketer copies the snippet from the
form's page, a page on another origin (a static file served by a separate local web server)
carries it, a visitor arriving from a campaign link fills it in on a phone and sends it, and the
lead appears in the workspace with the campaign's UTM fields, the referrer and the landing page.
The workspace answers the other origin's requests (CORS) because the form allows that origin."""

from __future__ import annotations

import functools
import html
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from tenants.roles import Role
from tests.conftest import World
from tests.e2e.conftest import MOBILE, LiveSite, orm, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain static web server on another port: another origin than the workspace."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    port = _free_port()
    server = ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(Quiet, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _make_form(world: World, origin: str) -> tuple[int, str]:
    from crm_modules.marketing.models_capture import Form

    with schema_context(world.alpha.tenant.schema_name):
        form = Form.objects.create(
            name="Prova gratuita",
            fields=[
                {"target": "first_name", "label": "Nome", "required": True},
                {"target": "email", "label": "Email", "required": True},
                {"target": "company_name", "label": "Azienda", "required": False},
            ],
            allowed_origins=[origin],
            lead_owner=world.alpha.members[Role.SALES_REP].user,
        )
        return form.pk, str(form.public_id)


def _leads(world: World) -> list[dict[str, Any]]:
    from crm_modules.sales.models import Lead

    with schema_context(world.alpha.tenant.schema_name):
        rows = Lead.objects.order_by("pk").values(
            "first_name", "email", "company_name", "owner_id", "first_touch", "last_touch"
        )
        return [dict(row) for row in rows]


def _touchpoints(world: World) -> list[dict[str, Any]]:
    from crm_modules.marketing.models_capture import Touchpoint

    with schema_context(world.alpha.tenant.schema_name):
        rows = Touchpoint.objects.values("utm_source", "utm_medium", "utm_campaign")
        return [dict(row) for row in rows]


def _clean_up(world: World) -> None:
    from crm_modules.activities.models import Activity
    from crm_modules.marketing.models_capture import Form, Touchpoint
    from crm_modules.sales.models import Lead
    from tenants.audit.models import AuditEvent

    with schema_context(world.alpha.tenant.schema_name):
        Touchpoint.objects.all().delete()
        Form.objects.all().delete()
        Activity.objects.filter(kind="form_fill").delete()
        Lead.objects.all().delete()
        AuditEvent.objects.filter(action__startswith="lead.").delete()


@pytest.fixture
def form(
    world: World, live_site: LiveSite, other_site: tuple[str, Path]
) -> Iterator[tuple[int, str]]:
    made = orm(_make_form, world, other_site[0])
    yield made
    orm(_clean_up, world)


def test_a_visitor_on_another_site_sends_the_embedded_form_and_becomes_a_lead_with_utm(
    world: World,
    live_site: LiveSite,
    browser: Browser,
    form: tuple[int, str],
    other_site: tuple[str, Path],
) -> None:
    form_pk, public_id = form
    origin, folder = other_site
    site = live_site.workspace(str(world.alpha.tenant.slug))

    # The marketer copies the snippet from the form's page.
    staff = phone_page(browser, world.alpha.owner)
    staff.goto(f"{site}/marketing/forms/{form_pk}/")
    snippet = staff.get_by_test_id("embed-snippet").input_value()
    assert f'data-rapport-form="{public_id}"' in snippet
    assert f"{site}/static/marketing/form-embed.js" in snippet
    staff.context.close()

    (folder / "landing.html").write_text(
        "<!doctype html><html lang='it'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Bottega Rossi</title></head><body><h1>Bottega Rossi</h1>"
        f"<p>{html.escape('Prova gratuita per 30 giorni')}</p>{snippet}</body></html>",
        encoding="utf-8",
    )

    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    landing = (
        f"{origin}/landing.html?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=primavera&utm_content=bottone"
    )
    page.goto(landing, referer="https://news.example.org/aprile")
    assert page.evaluate("location.origin") == origin

    embedded = page.get_by_test_id("embedded-form")
    expect(embedded).to_be_visible()
    # A required field left empty: the workspace answers with the field's error, nothing stored.
    embedded.get_by_label("Email *").fill("giulia@example.it")
    embedded.get_by_role("button").tap()
    expect(embedded.locator("p.error").first).not_to_be_empty()
    assert orm(_leads, world) == []

    embedded.get_by_label("Nome *").fill("Giulia")
    embedded.get_by_label("Azienda").fill("Bottega Rossi")
    embedded.get_by_role("button").tap()
    expect(page.locator(".rapport-form [role=status]")).to_contain_text("Thank you")
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= MOBILE["width"]

    [lead] = orm(_leads, world)
    assert (lead["first_name"], lead["email"], lead["company_name"]) == (
        "Giulia",
        "giulia@example.it",
        "Bottega Rossi",
    )
    assert lead["owner_id"] == world.alpha.members[Role.SALES_REP].user_id
    for touch in (lead["first_touch"], lead["last_touch"]):
        assert (
            touch["utm_source"],
            touch["utm_medium"],
            touch["utm_campaign"],
            touch["utm_content"],
        ) == ("newsletter", "email", "primavera", "bottone")
        assert touch["landing_page"] == landing
        assert touch["referrer"].startswith("https://news.example.org/")
    assert orm(_touchpoints, world) == [
        {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "primavera"}
    ]
    context.close()


def test_a_site_the_form_does_not_allow_cannot_send_it(
    world: World,
    live_site: LiveSite,
    browser: Browser,
    form: tuple[int, str],
    other_site: tuple[str, Path],
) -> None:
    from crm_modules.marketing.models_capture import Form

    _form_pk, public_id = form
    origin, folder = other_site

    def narrow() -> None:
        with schema_context(world.alpha.tenant.schema_name):
            Form.objects.update(allowed_origins=["https://bottega-rossi.example"])

    orm(narrow)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    (folder / "landing.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body>"
        f'<script src="{site}/static/marketing/form-embed.js" data-rapport-form="{public_id}"'
        " async></script></body></html>",
        encoding="utf-8",
    )
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    with page.expect_request(lambda request: request.url.endswith("/embed.json")):
        page.goto(f"{origin}/landing.html?utm_source=newsletter")
    # The browser keeps the workspace's refusal from the page: no form is drawn.
    expect(page.locator(".rapport-form")).to_be_attached()
    page.wait_for_timeout(1500)
    assert page.get_by_test_id("embedded-form").count() == 0
    # The refusal itself: 403 and no CORS header for that origin. (The request context knows no
    # *.localhost: it goes to the loopback address with the workspace's Host.)
    host = f"{world.alpha.tenant.slug}.localhost:{live_site.port}"
    answer = page.request.get(
        f"http://127.0.0.1:{live_site.port}/marketing/f/{public_id}/embed.json",
        headers={"Host": host, "Origin": origin},
    )
    assert answer.status == 403
    assert "access-control-allow-origin" not in answer.headers
    assert answer.json()["message"] == "This form may not be shown on this site."
    assert orm(_leads, world) == []
    context.close()
