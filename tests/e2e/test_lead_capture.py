"""A visitor in a real browser, on a phone: opens the hosted form from a link carrying UTM
parameters, fills it in and sends it; a lead is created with its first touch stored. Screenshots of
the hosted form at 375 and 1280 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from tests.conftest import World
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
def form_id(world: World, live_site: LiveSite) -> Iterator[str]:
    made = orm(_make_form, world)
    yield made
    orm(_clean_up, world)


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

    context.close()
