"""Importing a Pipedrive export in the browser: upload, the mapping page with its preview (the
bad row's problem in place), the import, its counts and the error report's download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.dataio.models import ImportJob
from crm_modules.sales.models import Contact
from crm_modules.sales.services import contact_create
from tenants.audit.models import AuditEvent
from tenants.models import Membership
from tests.conftest import World
from tests.documents.conftest import s3_bucket
from tests.e2e.conftest import DESKTOP, LiveSite, capture, orm, session_key
from tests.ops.conftest import s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]

PIPEDRIVE = (
    "Person - Name,Person - Email - Work,Person - Phone - Work,Person - Organization\r\n"
    "Ana García,ana@garcia.e2e.example.com,+34 612 345 678,Acme Iberia E2E\r\n"
    "Already Here,dup@e2e.example.com,,\r\n"
    "Bad Row,not-an-email,,\r\n"
)


def _prepare(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        actor = Membership.objects.select_related("tenant", "user").get(pk=world.alpha.owner.pk)
        contact_create(actor=actor, first_name="Already", emails=["dup@e2e.example.com"])


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        from crm_modules.sales.models import Company

        Contact.objects.filter(search_text__contains="e2e.example.com").delete()
        Company.objects.filter(name="Acme Iberia E2E").delete()
        ImportJob.objects.all().delete()
        AuditEvent.objects.filter(
            action__in=["import.started", "import.finished", "contact.created"]
        ).delete()


@pytest.fixture
def committed(world: World, live_site: LiveSite) -> Iterator[World]:
    orm(_prepare, world)
    yield world
    orm(_clean_up, world)


def test_a_pipedrive_file_is_imported_and_its_error_report_downloaded(
    committed: World, live_site: LiveSite, browser: Browser, tmp_path: Path
) -> None:
    world = committed
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
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
    file = tmp_path / "pipedrive-persons.csv"
    file.write_text(PIPEDRIVE, encoding="utf-8")

    page.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}/data/imports/")
    page.get_by_label("File", exact=True).set_input_files(str(file))
    page.get_by_role("button", name="Upload and map columns").click()

    preview = page.get_by_test_id("preview")
    expect(preview).to_be_visible()
    expect(page.get_by_test_id("column-1")).to_have_value("email")
    expect(page.get_by_test_id("column-3")).to_have_value("company")
    expect(preview.locator('[data-row="3"]')).to_contain_text("Enter a valid email address.")
    expect(preview.locator('[data-row="1"]')).to_contain_text("+34612345678")
    capture(page, "import-mapping")

    page.get_by_test_id("start-import").click()
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("count-created")).to_have_text("1")
    expect(page.get_by_test_id("count-skipped")).to_have_text("1")
    expect(page.get_by_test_id("count-errors")).to_have_text("1")
    capture(page, "import-done")

    with page.expect_download() as downloaded:
        page.get_by_test_id("error-report").click()
    report = Path(downloaded.value.path()).read_text(encoding="utf-8-sig")
    assert list(csv.reader(io.StringIO(report))) == [
        ["Row", "Column", "Reason"],
        ["3", "Person - Email - Work", "Enter a valid email address."],
    ]
    context.close()

    def imported() -> list[tuple[str, str, str]]:
        with schema_context(world.alpha.tenant.schema_name):
            return list(
                Contact.objects.filter(primary_email="ana@garcia.e2e.example.com").values_list(
                    "first_name", "last_name", "company__name"
                )
            )

    assert orm(imported) == [("Ana", "García", "Acme Iberia E2E")]
