"""An admin, on a touch phone at 375 px, defines a lead select with a default on the custom
fields page, finds it filled in on the new-lead form, creates the lead, changes the value on
the lead's page, shows it as a column of the leads list and converts the lead: the contact's
field with the same code takes the value. Screenshots at 375 and 1280 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.sales import services
from crm_modules.sales.models import Contact, CustomField, Lead
from tenants.models import Membership, UserSession
from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _state(world: World) -> dict[str, Any]:
    with schema_context(world.alpha.tenant.schema_name):
        field = CustomField.objects.filter(entity="lead", code="temperature").first()
        lead = Lead.objects.filter(first_name="Natasha").first()
        contact = Contact.objects.filter(first_name="Natasha").first()
        return {
            "default": field.default_value if field else None,
            "lead": lead.custom if lead else None,
            "contact": contact.custom if contact else None,
        }


def _contact_field(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        owner = Membership.objects.select_related("tenant", "user").get(pk=world.alpha.owner.pk)
        services.custom_field_create(
            actor=owner, entity="contact", code="temperature", label="Temperature", type="text"
        )


def _clean_up(world: World, sessions: set[str], last_seen: Any) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities import api as timeline
        from crm_modules.activities.models import Activity
        from tenants.audit.models import AuditEvent

        Lead.objects.filter(first_name="Natasha").delete()
        Contact.objects.filter(first_name="Natasha").delete()
        CustomField.objects.filter(code="temperature").delete()
        Activity.objects.all().delete()
        timeline.activity_days_rebuild()
        for prefix in ("custom_field.", "contact.", "lead."):
            AuditEvent.objects.filter(action__startswith=prefix).delete()
    UserSession.objects.exclude(session_key__in=sessions).delete()
    Membership.objects.filter(pk=world.alpha.owner.pk).update(last_seen_at=last_seen)


@pytest.fixture
def cleaned(world: World, live_site: LiveSite) -> Iterator[None]:
    sessions = orm(lambda: set(UserSession.objects.values_list("session_key", flat=True)))
    last_seen = orm(
        lambda: Membership.objects.values_list("last_seen_at", flat=True).get(
            pk=world.alpha.owner.pk
        )
    )
    yield
    orm(_clean_up, world, sessions, last_seen)


def test_a_lead_field_with_a_default_is_filled_and_carried_to_the_contact_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, cleaned: None
) -> None:
    orm(_contact_field, world)
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/sales/custom-fields/?entity=lead")
    form = page.get_by_test_id("new-field")
    form.get_by_label("Label", exact=True).fill("Температура")
    form.get_by_label("Code", exact=True).fill("temperature")
    form.get_by_label("Type", exact=True).select_option("select")
    form.get_by_label("Options", exact=True).fill("cold\nwarm\nhot")
    form.get_by_label("Default value", exact=True).fill("cold")
    form.get_by_role("button", name="Create field").tap()
    row = page.get_by_test_id("custom-fields").locator('tr[data-field="temperature"]')
    expect(row).to_contain_text("Default: cold")
    capture(page, "sales-lead-custom-fields")
    assert orm(_state, world)["default"] == "cold"

    page.goto(f"{site}/sales/leads/new/")
    expect(page.get_by_label("Температура")).to_have_value("cold")
    capture(page, "sales-lead-new")
    page.get_by_label("First name").fill("Natasha")
    page.get_by_label("Source", exact=True).fill("Выставка")
    page.get_by_role("button", name="Create").first.tap()
    fields = page.get_by_test_id("custom-fields")
    expect(fields).to_be_visible()
    assert orm(_state, world)["lead"] == {"temperature": "cold"}

    fields.get_by_label("Температура").select_option("hot")
    fields.get_by_role("button", name="Save").tap()
    expect(page.get_by_text("Saved.")).to_be_visible()
    capture(page, "sales-lead-detail-custom-fields")
    assert orm(_state, world)["lead"] == {"temperature": "hot"}

    page.goto(f"{site}/sales/leads/?cols=temperature")
    expect(page.locator('td[data-column="temperature"]').first).to_have_text("hot")
    capture(page, "sales-lead-list-custom-column")

    page.goto(f"{site}/sales/leads/")
    page.get_by_role("link", name="Natasha").tap()
    page.get_by_role("button", name="Convert to a contact").tap()
    expect(page.get_by_text("Lead converted.")).to_be_visible()
    state = orm(_state, world)
    assert (state["lead"], state["contact"]) == ({"temperature": "hot"}, {"temperature": "hot"})
    page.context.close()
