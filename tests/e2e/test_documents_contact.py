"""On a phone (375 px, touch) and a desktop (1280 px): attach a PDF to a contact with the
progress bar showing, see it in the contact's Documents section and on its timeline, preview its
first page, upload a second version and restore the first, move it to the trash and restore
it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pypdfium2 as pdfium
import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, ViewportSize, expect

from crm_modules.activities.models import Activity
from crm_modules.documents.models import Document
from crm_modules.sales.models import Contact
from tenants.audit.models import AuditEvent
from tests.conftest import World
from tests.documents.conftest import s3_bucket
from tests.e2e.conftest import DESKTOP, MOBILE, LiveSite, capture, orm, session_key
from tests.ops.conftest import s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]


def _pdf() -> bytes:
    return _pdf_of(1)


def _contact(world: World) -> int:
    with schema_context(world.alpha.tenant.schema_name):
        contact = Contact.objects.create(
            first_name="Сомчай", last_name="E2E-docs", search_text="сомчай e2e-docs"
        )
        return int(contact.pk)


def _clean_up(world: World, contact_id: int) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Document.objects.all().delete()
        Activity.objects.filter(kind__startswith="document_").delete()
        AuditEvent.objects.filter(action__startswith="document.").delete()
        Contact.objects.filter(pk=contact_id).delete()


@pytest.fixture
def contact_id(world: World, live_site: LiveSite) -> Iterator[int]:
    contact = orm(_contact, world)
    yield contact
    orm(_clean_up, world, contact)


# Records, across the reload that follows an upload, that the progress bar was shown.
WATCH_PROGRESS = """() => {
  const bar = document.querySelector("[data-testid=documents-panel] [data-upload-progress]");
  new MutationObserver(() => {
    if (!bar.hidden) sessionStorage.setItem("upload-progress-shown", "yes");
  }).observe(bar, { attributes: true });
}"""


def _pdf_of(pages: int) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(595, 842)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("viewport", [MOBILE, DESKTOP], ids=["375px", "1280px"])
def test_a_pdf_attached_to_a_contact_versioned_trashed_and_restored(
    world: World, contact_id: int, live_site: LiveSite, browser: Browser, viewport: ViewportSize
) -> None:
    phone = viewport == MOBILE
    width = viewport["width"]
    context = browser.new_context(viewport=viewport, has_touch=phone, is_mobile=phone)
    context.set_default_timeout(30_000)
    host = f"{world.alpha.tenant.slug}.localhost"
    cookie: Any = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": orm(session_key, world.alpha.owner),
        "domain": host,
        "path": "/",
    }
    context.add_cookies([cookie])
    page = context.new_page()
    site = live_site.workspace(str(world.alpha.tenant.slug))
    contact_page = f"{site}/sales/contacts/{contact_id}/"

    def press(locator: Any) -> None:
        if phone:
            locator.tap()
        else:
            locator.click()

    page.goto(contact_page)
    panel = page.get_by_test_id("documents-panel")
    expect(panel).to_contain_text("No documents yet.")
    page.evaluate(WATCH_PROGRESS)
    panel.locator("[data-upload-ready] [data-upload-input]").first.set_input_files(
        {"name": "Offer.pdf", "mimeType": "application/pdf", "buffer": _pdf()}
    )
    # The page reloads once the upload is complete.
    link = panel.get_by_role("link", name="Offer.pdf")
    expect(link).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('upload-progress-shown')") == "yes"
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator('[data-kind="document_added"]')).to_contain_text(
        "Document attached · Offer.pdf"
    )
    capture(page, f"contact-documents-{width}")

    press(link)
    preview = page.get_by_test_id("preview").locator("img")
    expect(preview).to_have_attribute("alt", "First page of Offer.pdf")
    page.wait_for_function(
        "() => { const img = document.querySelector('[data-testid=preview] img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    assert preview.evaluate("img => img.naturalWidth") == 400
    capture(page, f"document-preview-{width}")

    versions = page.get_by_test_id("versions")
    expect(versions.locator("tbody tr")).to_have_count(1)
    page.locator("[data-upload-ready] [data-upload-input]").first.set_input_files(
        {"name": "Offer.pdf", "mimeType": "application/pdf", "buffer": _pdf_of(2)}
    )
    # The page reloads once the new version is complete.
    expect(versions.locator("tbody tr")).to_have_count(2)
    expect(versions.locator('tr[data-version="2"]')).to_contain_text("current")
    press(versions.locator('tr[data-version="1"]').get_by_role("button", name="Restore"))
    expect(versions.locator("tbody tr")).to_have_count(3)
    third = versions.locator('tr[data-version="3"]')
    expect(third).to_contain_text("current")
    expect(third).to_contain_text("restored from version 1")
    capture(page, f"document-version-restored-{width}")

    press(page.get_by_role("button", name="Move to the trash"))
    press(page.locator("dialog[open]").get_by_role("button", name="Move to the trash"))
    expect(page.get_by_test_id("documents")).to_contain_text("No documents match.")

    page.goto(contact_page)
    expect(page.get_by_test_id("documents-panel")).to_contain_text("No documents yet.")
    expect(
        page.get_by_test_id("timeline").locator('[data-kind="document_deleted"]')
    ).to_contain_text("Document moved to the trash · Offer.pdf")

    page.goto(f"{site}/documents/?trash=1")
    row = page.get_by_test_id("documents").locator("tbody tr").filter(has_text="Offer.pdf")
    expect(row).to_contain_text("Contact: Сомчай E2E-docs")
    capture(page, f"documents-trash-{width}")
    press(row.get_by_role("button", name="Restore"))
    expect(page.get_by_role("heading", name="Offer.pdf")).to_be_visible()

    page.goto(contact_page)
    expect(
        page.get_by_test_id("documents-panel").get_by_role("link", name="Offer.pdf")
    ).to_be_visible()
    context.close()

    def state() -> tuple[list[tuple[str, int]], list[str]]:
        with schema_context(world.alpha.tenant.schema_name):
            documents = list(
                Document.objects.filter(deleted_at__isnull=True).values_list(
                    "name", "current_version"
                )
            )
            actions = list(
                AuditEvent.objects.filter(action__startswith="document.")
                .order_by("pk")
                .values_list("action", flat=True)
            )
            return documents, actions

    assert orm(state) == (
        [("Offer.pdf", 3)],
        [
            "document.uploaded",
            "document.version_added",
            "document.version_restored",
            "document.deleted",
            "document.restored",
        ],
    )
