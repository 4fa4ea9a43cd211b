"""An admin, on a touch phone at 375 px, opens the custom fields page from the workspace
settings, defines a required select of contacts, edits it, sees it on the new-contact form and
fills it, then archives it and sees it leave the form. Screenshots at 375 and 1280 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.sales.models import Contact, CustomField
from tests.conftest import World
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _state(world: World) -> dict[str, Any]:
    with schema_context(world.alpha.tenant.schema_name):
        field = CustomField.objects.get(entity="contact", code="tier")
        contact = Contact.objects.filter(first_name="Olga").first()
        return {
            "field": (field.label, field.options, field.help_text, field.required),
            "archived": field.archived_at is not None,
            "custom": contact.custom if contact else None,
        }


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities import api as timeline
        from crm_modules.activities.models import Activity
        from tenants.audit.models import AuditEvent

        Contact.objects.filter(first_name="Olga").delete()
        CustomField.objects.filter(code="tier").delete()
        Activity.objects.all().delete()
        timeline.activity_days_rebuild()
        AuditEvent.objects.filter(action__startswith="custom_field.").delete()
        AuditEvent.objects.filter(action__startswith="contact.").delete()


@pytest.fixture
def cleaned(world: World, live_site: LiveSite) -> Iterator[None]:
    yield
    orm(_clean_up, world)


def test_an_admin_defines_a_field_and_fills_it_on_a_contact_at_phone_width(
    world: World, live_site: LiveSite, browser: Browser, cleaned: None
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/settings/")
    panel = page.get_by_test_id("settings-custom-fields")
    expect(panel).to_be_visible()
    panel.get_by_role("link", name="Contact").tap()
    expect(page.get_by_role("heading", name="Custom fields")).to_be_visible()

    form = page.get_by_test_id("new-field")
    form.get_by_label("Label", exact=True).fill("Уровень")
    form.get_by_label("Code", exact=True).fill("tier")
    form.get_by_label("Type", exact=True).select_option("select")
    form.get_by_label("Options", exact=True).fill("gold\nsilver")
    form.get_by_label("Help", exact=True).fill("Contract level")
    form.get_by_label("Required", exact=True).tap()
    form.get_by_role("button", name="Create field").tap()

    row = page.get_by_test_id("custom-fields").locator('tr[data-field="tier"]')
    expect(row).to_contain_text("Уровень")
    expect(row).to_contain_text("gold, silver")
    assert page.viewport_size == MOBILE
    capture(page, "sales-custom-fields")
    assert orm(_state, world)["field"] == ("Уровень", ["gold", "silver"], "Contract level", True)

    # The edit page, at phone width: another option and a clearer help.
    row.get_by_role("link", name="Edit").tap()
    edit = page.get_by_test_id("edit-field")
    expect(edit.get_by_label("Code", exact=True)).to_have_count(0)
    capture(page, "sales-custom-field-edit")
    edit.get_by_label("Options", exact=True).fill("gold\nsilver\nbronze")
    edit.get_by_label("Help", exact=True).fill("The contract's level")
    edit.get_by_role("button", name="Save").tap()
    expect(row).to_contain_text("gold, silver, bronze")
    assert orm(_state, world)["field"] == (
        "Уровень",
        ["gold", "silver", "bronze"],
        "The contract's level",
        True,
    )

    # The new field is on the new-contact form, at phone width, with its help and mark.
    page.goto(f"{site}/sales/contacts/new/")
    select = page.get_by_label("Уровень")
    expect(select).to_be_visible()
    expect(page.locator("#cf_tier_help")).to_have_text("The contract's level")
    capture(page, "sales-contact-new-custom-field")
    page.get_by_label("First name").fill("Olga")
    # Required: the form refuses the contact until the field is filled.
    page.get_by_role("button", name="Create").first.tap()
    expect(page.get_by_role("alert")).to_contain_text("This field is required.")
    page.get_by_label("First name").fill("Olga")
    page.get_by_label("Уровень").select_option("silver")
    page.get_by_role("button", name="Create").first.tap()
    expect(page.get_by_test_id("custom-fields")).to_be_visible()
    assert orm(_state, world)["custom"] == {"tier": "silver"}

    # Archived, it leaves the form; the contact keeps its value.
    page.goto(f"{site}/sales/custom-fields/?entity=contact")
    page.get_by_test_id("archive-tier").tap()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Archive “Уровень”?")
    dialog.get_by_role("button", name="Archive").tap()
    expect(page.get_by_test_id("restore-tier")).to_be_visible()
    page.goto(f"{site}/sales/contacts/new/")
    expect(page.get_by_label("First name")).to_be_visible()
    expect(page.locator("#cf_tier")).to_have_count(0)
    state = orm(_state, world)
    assert (state["archived"], state["custom"]) == (True, {"tier": "silver"})
    page.context.close()
