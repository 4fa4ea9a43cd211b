"""Importing a Pipedrive deals export on a phone: the mapping page recognises its columns, the
preview shows each amount with its currency and the unknown stage in place, the import links
the deal to its contact and reports the bad row; every page fits 375 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.dataio.models import ImportJob
from crm_modules.sales.models import Company, Contact, CustomField, Deal, Pipeline, Stage
from crm_modules.sales.services import contact_create, pipeline_create
from crm_modules.sales.services.deals import StageInput
from tenants.audit.models import AuditEvent
from tenants.models import Membership
from tests.conftest import World
from tests.documents.conftest import s3_bucket
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, session_key
from tests.ops.conftest import s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]

DEALS = (
    "Deal - Title,Deal - Value,Deal - Pipeline,Deal - Stage,Deal - Contact person,Priority\r\n"
    'Большой заказ E2E,"1.234,50 €",Import E2E,Proposal,Ana E2E (ana@deals.e2e.example.com),'
    "High\r\n"
    "Bad stage E2E,10,Import E2E,Negotiation,,Low\r\n"
)


def _prepare(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        actor = Membership.objects.select_related("tenant", "user").get(pk=world.alpha.owner.pk)
        contact_create(actor=actor, first_name="Ana", emails=["ana@deals.e2e.example.com"])
        pipeline_create(
            actor=actor,
            name="Import E2E",
            stages=[StageInput("Qualified", 20), StageInput("Proposal", 50)],
        )


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Deal.objects.filter(pipeline__name="Import E2E").delete()
        Stage.objects.filter(pipeline__name="Import E2E").delete()
        Pipeline.objects.filter(name="Import E2E").delete()
        Contact.objects.filter(search_text__contains="deals.e2e.example.com").delete()
        Company.objects.filter(name__endswith="E2E").delete()
        ImportJob.objects.all().delete()
        CustomField.objects.filter(entity="deal", code="priority").delete()
        AuditEvent.objects.filter(
            action__in=[
                "import.started",
                "import.finished",
                "import.field_created",
                "custom_field.created",
                "contact.created",
                "pipeline.created",
            ]
        ).delete()


@pytest.fixture
def committed(world: World, live_site: LiveSite) -> Iterator[World]:
    orm(_prepare, world)
    yield world
    orm(_clean_up, world)


def test_a_deals_export_is_imported_on_a_phone(
    committed: World, live_site: LiveSite, browser: Browser, tmp_path: Path
) -> None:
    world = committed
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
    context.set_default_timeout(20_000)
    host = f"{world.alpha.tenant.slug}.localhost"
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, world.alpha.owner),
        "domain": host,
        "path": "/",
    }
    context.add_cookies([cookie])
    page = context.new_page()
    file = tmp_path / "pipedrive-deals.csv"
    file.write_text(DEALS, encoding="utf-8")

    page.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}/data/imports/")
    page.get_by_label("The file holds").select_option("deal")
    page.get_by_label("File", exact=True).set_input_files(str(file))
    page.get_by_role("button", name="Upload and map columns").tap()

    preview = page.get_by_test_id("preview")
    expect(preview).to_be_visible()
    expect(page.get_by_test_id("column-1")).to_have_value("amount")
    expect(page.get_by_test_id("column-3")).to_have_value("stage")
    expect(page.get_by_test_id("column-4")).to_have_value("contact_name")
    expect(preview.locator('[data-row="1"]')).to_contain_text("1234.50 EUR")
    expect(preview.locator('[data-row="1"]')).to_contain_text("Ana")
    expect(preview.locator('[data-row="2"]')).to_contain_text(
        "The pipeline “Import E2E” has no stage named “Negotiation”."
    )
    capture(page, "import-deals-mapping")

    # The unmapped column becomes a new custom field of deals, its type guessed.
    new_field = page.get_by_test_id("new-field-5")
    new_field.locator("summary").tap()
    expect(page.get_by_label("Type", exact=True)).to_have_value("text")
    capture(page, "import-deals-new-field")
    page.get_by_test_id("create-field-5").tap()
    expect(page.get_by_test_id("column-5")).to_have_value("custom:priority")
    expect(preview.locator('[data-row="1"]')).to_contain_text("High")

    page.get_by_test_id("start-import").tap()
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("count-created")).to_have_text("1")
    expect(page.get_by_test_id("count-errors")).to_have_text("1")
    capture(page, "import-deals-done")
    context.close()

    def imported() -> list[tuple[str, str, str, list[str], dict[str, str]]]:
        with schema_context(world.alpha.tenant.schema_name):
            deal = Deal.objects.get(pipeline__name="Import E2E")
            return [
                (
                    deal.name,
                    f"{deal.amount} {deal.currency}",
                    deal.stage.name,
                    [c.primary_email for c in deal.contacts.all()],
                    deal.custom,
                )
            ]

    assert orm(imported) == [
        (
            "Большой заказ E2E",
            "1234.50 EUR",
            "Proposal",
            ["ana@deals.e2e.example.com"],
            {"priority": "High"},
        )
    ]
