"""A visitor in a real browser, on a phone: opens the hosted form from a link carrying UTM
parameters, fills it in and sends it; a lead is created with its first touch stored. Then the
embed script on another origin draws the same form and posts it cross-origin. Screenshots of
the hosted form and the attribution report at 375 and 1280 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from tenants.models import UserSession
from tests.conftest import World, workspace_client
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _make_form(world: World) -> str:
    from crm_modules.marketing.models_capture import Form
    from tenants.roles import Role

    with schema_context(world.alpha.tenant.schema_name):
        form = Form.objects.create(
            name="Richiesta demo",
            fields=[
                {"target": "first_name", "label": "Nome", "required": True},
                {"target": "email", "label": "Email", "required": True},
            ],
            consent_channels=["email"],
            lead_owner=world.alpha.members[Role.SALES_REP].user,
        )
        return str(form.public_id)


def _leads(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    from crm_modules.sales.models import Lead

    with schema_context(world.alpha.tenant.schema_name):
        return list(Lead.objects.order_by("pk").values_list("first_name", "email", "first_touch"))


def _clean_up(world: World, sessions: set[str]) -> None:
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
    UserSession.objects.exclude(session_key__in=sessions).delete()


@pytest.fixture
def form_id(world: World, live_site: LiveSite) -> Iterator[str]:
    sessions = orm(lambda: set(UserSession.objects.values_list("session_key", flat=True)))
    made = orm(_make_form, world)
    yield made
    orm(_clean_up, world, sessions)


def test_a_visitor_from_a_campaign_link_becomes_a_lead_with_its_first_touch(
    world: World, live_site: LiveSite, browser: Browser, form_id: str
) -> None:
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(
        f"{site}/marketing/f/{form_id}/?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=primavera"
    )
    page.get_by_role("textbox", name="Nome *").fill("Giulia")
    page.get_by_role("textbox", name="Email *").fill("giulia@example.it")
    capture(page, "hosted-form")
    page.get_by_role("button", name="Send").tap()
    expect(page.get_by_test_id("form-done")).to_contain_text("Thank you")

    ((name, email, touch),) = orm(_leads, world)
    assert (name, email) == ("Giulia", "giulia@example.it")
    assert (touch["utm_source"], touch["utm_medium"], touch["utm_campaign"]) == (
        "newsletter",
        "email",
        "primavera",
    )
    assert touch["landing_page"].endswith("utm_campaign=primavera")

    # The embed script on another site (the public host stands in for it): the form is drawn
    # from the workspace and posted across origins with the page's own UTM parameters.
    embedding = context.new_page()
    embedding.route(
        f"{live_site.public}/landing?utm_campaign=estate&utm_source=ads",
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                "<!doctype html><html><body><h1>Landing</h1>"
                f'<script src="{site}/static/marketing/form-embed.js" '
                f'data-rapport-form="{form_id}"></script></body></html>'
            ),
        ),
    )
    embedding.goto(f"{live_site.public}/landing?utm_campaign=estate&utm_source=ads")
    embedded = embedding.get_by_test_id("embedded-form")
    embedded.get_by_role("textbox", name="Nome *").fill("Marco")
    embedded.get_by_role("textbox", name="Email *").fill("marco@example.it")
    embedded.get_by_role("button", name="Send").tap()
    expect(embedding.get_by_role("status")).to_contain_text("Thank you")
    leads = orm(_leads, world)
    assert [lead[0] for lead in leads] == ["Giulia", "Marco"]
    assert leads[1][2]["utm_campaign"] == "estate"
    assert leads[1][2]["utm_source"] == "ads"

    # The attribution report as the Owner.
    owner_key = orm(
        lambda: str(
            workspace_client(world.alpha.owner.user, world.alpha.tenant)
            .cookies[settings.SESSION_COOKIE_NAME]
            .value
        )
    )
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": owner_key,
        "domain": f"{world.alpha.tenant.slug}.localhost",
        "path": "/",
    }
    context.add_cookies([cookie])
    report = context.new_page()
    report.goto(f"{site}/marketing/attribution/?model=u_shaped")
    expect(report.get_by_test_id("attribution-model")).to_contain_text("U-shaped")
    capture(report, "attribution-report")
    context.close()
