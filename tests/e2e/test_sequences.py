"""A marketer's path in a real browser at phone width with touch: create a sequence of an email
and a task on the editor, activate it, enrol a contact from the contact's page and see the
enrolment there and on the sequence. Screenshots at 375 and 1280 px."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page
from tests.sales.factories import ContactFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _make(world: World) -> int:
    with schema_context(world.alpha.tenant.schema_name):
        return int(
            ContactFactory.create(
                first_name="Giulia",
                primary_email="giulia@example.com",
                owner=world.alpha.owner.user,
            ).pk
        )


def _enrolments(world: World) -> list[tuple[str, int, str]]:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.marketing.models_sequences import Enrolment

        return list(Enrolment.objects.values_list("sequence__name", "contact_id", "state"))


def _clean_up(world: World, contact: int) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.activities.models import Activity
        from crm_modules.marketing.models_sequences import Sequence
        from crm_modules.sales.models import Contact
        from tenants.audit.models import AuditEvent

        Sequence.objects.all().delete()
        Contact.objects.filter(pk=contact).delete()
        Activity.objects.filter(kind__startswith="sequence_").delete()
        AuditEvent.objects.filter(action__startswith="sequence.").delete()


@pytest.fixture
def contact(world: World, live_site: LiveSite) -> Iterator[int]:
    made = orm(_make, world)
    yield made
    orm(_clean_up, world, made)


def test_a_marketer_creates_a_sequence_and_enrols_a_contact(
    world: World, live_site: LiveSite, browser: Browser, contact: int
) -> None:
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/marketing/sequences/")
    page.get_by_test_id("new-sequence").tap()
    page.get_by_label("Name", exact=True).fill("Benvenuto")
    first = page.locator('fieldset[data-step="1"]')
    first.get_by_label("Email subject").fill('Ciao {{ first_name | default:"amico" }}')
    first.get_by_label("Email body (HTML)").fill("<p>Benvenuto {{ first_name }}</p>")
    second = page.locator('fieldset[data-step="2"]')
    second.get_by_label("Kind").select_option("task")
    second.get_by_label("Wait after the previous step").fill("2")
    second.get_by_label("Unit").select_option("business_days")
    second.get_by_label("Task title (for a task step)").fill("Chiamare Giulia")
    capture(page, "sequence-editor")
    page.get_by_test_id("save-sequence").tap()

    steps = page.get_by_test_id("sequence-steps")
    expect(steps).to_contain_text("Ciao")
    expect(steps).to_contain_text("Chiamare Giulia")
    page.get_by_test_id("activate-sequence").tap()
    expect(page.get_by_test_id("sequence-status")).to_contain_text("Active")

    page.goto(f"{site}/sales/contacts/{contact}/")
    panel = page.get_by_test_id("contact-sequences")
    panel.get_by_label("Enrol in").select_option(label="Benvenuto")
    panel.get_by_test_id("contact-enrol-submit").tap()
    expect(page.get_by_test_id("contact-sequences")).to_contain_text("Benvenuto")
    expect(page.locator('[data-testid="contact-sequences"] [data-state="active"]')).to_have_count(1)
    capture(page, "sequence-contact-panel")
    assert orm(_enrolments, world) == [("Benvenuto", contact, "active")]

    page.goto(f"{site}/marketing/sequences/")
    row = page.locator("[data-sequence]").filter(has_text="Benvenuto")
    expect(row.locator('[data-stat="active"]')).to_have_text("1")
    capture(page, "sequence-list")
    page.context.close()
