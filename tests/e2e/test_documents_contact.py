"""On a phone (375 px, touch): attach a PDF to a contact, see it in the contact's Documents
section and on its timeline, preview its first page, move it to the trash and restore it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pypdfium2 as pdfium
import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.activities.models import Activity
from crm_modules.documents.models import Document
from crm_modules.sales.models import Contact
from tenants.audit.models import AuditEvent
from tests.conftest import World
from tests.documents.conftest import s3_bucket
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, session_key
from tests.ops.conftest import s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]


def _pdf() -> bytes:
    document = pdfium.PdfDocument.new()
    document.new_page(595, 842)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


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


def test_a_pdf_attached_to_a_contact_on_a_phone(
    world: World, contact_id: int, live_site: LiveSite, browser: Browser
) -> None:
    context = browser.new_context(viewport=MOBILE, has_touch=True, is_mobile=True)
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

    page.goto(contact_page)
    panel = page.get_by_test_id("documents-panel")
    expect(panel).to_contain_text("No documents yet.")
    panel.locator("[data-upload-input]").first.set_input_files(
        {"name": "Offer.pdf", "mimeType": "application/pdf", "buffer": _pdf()}
    )
    # The page reloads once the upload is complete.
    link = panel.get_by_role("link", name="Offer.pdf")
    expect(link).to_be_visible()
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator('[data-kind="document_added"]')).to_contain_text(
        "Document attached · Offer.pdf"
    )
    capture(page, "contact-documents")

    link.tap()
    preview = page.get_by_test_id("preview").locator("img")
    expect(preview).to_have_attribute("alt", "First page of Offer.pdf")
    page.wait_for_function(
        "() => { const img = document.querySelector('[data-testid=preview] img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    assert preview.evaluate("img => img.naturalWidth") == 400
    capture(page, "document-preview")

    page.get_by_role("button", name="Move to the trash").tap()
    page.locator("dialog[open]").get_by_role("button", name="Move to the trash").tap()
    expect(page.get_by_test_id("documents")).to_contain_text("No documents match.")

    page.goto(contact_page)
    expect(page.get_by_test_id("documents-panel")).to_contain_text("No documents yet.")
    expect(
        page.get_by_test_id("timeline").locator('[data-kind="document_deleted"]')
    ).to_contain_text("Document moved to the trash · Offer.pdf")

    page.goto(f"{site}/documents/?trash=1")
    row = page.get_by_test_id("documents").locator("tbody tr").filter(has_text="Offer.pdf")
    expect(row).to_contain_text("Contact: Сомчай E2E-docs")
    capture(page, "documents-trash")
    row.get_by_role("button", name="Restore").tap()
    expect(page.get_by_role("heading", name="Offer.pdf")).to_be_visible()

    page.goto(contact_page)
    expect(
        page.get_by_test_id("documents-panel").get_by_role("link", name="Offer.pdf")
    ).to_be_visible()
    context.close()

    def state() -> tuple[list[str], list[str]]:
        with schema_context(world.alpha.tenant.schema_name):
            documents = list(
                Document.objects.filter(deleted_at__isnull=True).values_list("name", flat=True)
            )
            actions = list(
                AuditEvent.objects.filter(action__startswith="document.")
                .order_by("pk")
                .values_list("action", flat=True)
            )
            return documents, actions

    assert orm(state) == (
        ["Offer.pdf"],
        ["document.uploaded", "document.deleted", "document.restored"],
    )
