"""Dropping files on a record's Documents panel (a desktop's drag and drop): the zone shows it
is ready while a file is dragged over it, and every file dropped is uploaded straight to the
bucket and attached to the record."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.documents.models import Document
from tests.conftest import World
from tests.documents.conftest import s3_bucket
from tests.e2e.conftest import LiveSite, orm, signed_in_page
from tests.e2e.test_documents_contact import _pdf_of, contact_id
from tests.ops.conftest import s3_endpoint

__all__ = ["contact_id", "s3_bucket", "s3_endpoint"]

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]

# A DataTransfer holding the files a person drags in from the desktop.
DRAGGED = """(files) => {
  const transfer = new DataTransfer();
  for (const file of files) {
    const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], file.name, { type: file.type }));
  }
  return transfer;
}"""


def _attached(world: World, contact_id: int) -> list[str]:
    with schema_context(world.alpha.tenant.schema_name):
        return sorted(
            Document.objects.filter(
                links__record_type="sales.contact", links__record_id=contact_id
            ).values_list("name", flat=True)
        )


def test_files_dropped_on_the_panel_are_uploaded_and_attached(
    world: World, contact_id: int, live_site: LiveSite, browser: Browser
) -> None:
    page = signed_in_page(browser, world.alpha.owner, timeout=30_000)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page.goto(f"{site}/sales/contacts/{contact_id}/")
    panel = page.get_by_test_id("documents-panel")
    zone = panel.locator("[data-document-upload][data-upload-ready]").first
    files = [
        ("Дизайн.pdf", "application/pdf", _pdf_of(1)),
        ("notes.txt", "text/plain", "ราคา 价格\n".encode()),
    ]
    encoded = [
        {"name": name, "type": kind, "data": base64.b64encode(data).decode()}
        for name, kind, data in files
    ]
    transfer = page.evaluate_handle(DRAGGED, encoded)

    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(zone).to_have_class(re.compile(r"\bupload-zone-over\b"))
    zone.dispatch_event("drop", {"dataTransfer": transfer})

    # The page reloads once both uploads are complete.
    expect(panel.get_by_role("link", name="Дизайн.pdf")).to_be_visible()
    expect(panel.get_by_role("link", name="notes.txt")).to_be_visible()
    expect(zone).not_to_have_class(re.compile(r"\bupload-zone-over\b"))
    assert orm(_attached, world, contact_id) == ["notes.txt", "Дизайн.pdf"]
    page.context.close()


def test_a_file_whose_name_its_bytes_contradict_is_refused_with_the_reason(
    world: World, contact_id: int, live_site: LiveSite, browser: Browser
) -> None:
    page = signed_in_page(browser, world.alpha.owner, timeout=30_000)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page.goto(f"{site}/sales/contacts/{contact_id}/")
    panel = page.get_by_test_id("documents-panel")
    zone = panel.locator("[data-document-upload][data-upload-ready]").first
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 24
    encoded = [
        {"name": "contract.pdf", "type": "image/png", "data": base64.b64encode(png).decode()}
    ]
    transfer = page.evaluate_handle(DRAGGED, encoded)

    zone.dispatch_event("drop", {"dataTransfer": transfer})

    expect(zone.locator("[data-upload-status]")).to_have_text(
        "The name ends in .pdf, but the file's content is image/png. "
        "Upload the real file or give it a name that says what it is."
    )
    assert orm(_attached, world, contact_id) == []
    page.context.close()


def _document_id(world: World, name: str) -> int:
    with schema_context(world.alpha.tenant.schema_name):
        return int(Document.objects.get(name=name).pk)


FETCHED = """async (url) => {
  const answer = await fetch(url, { redirect: "manual" });
  return {
    status: answer.status,
    headers: Object.fromEntries(answer.headers.entries()),
    body: await answer.text(),
  };
}"""

CLICK_LINK = """(url) => {
  const link = document.createElement("a");
  link.href = url;
  document.body.appendChild(link);
  link.click();
}"""


def test_an_active_file_reaches_the_browser_only_as_a_download_it_may_not_sniff(
    world: World, contact_id: int, live_site: LiveSite, browser: Browser
) -> None:
    page = signed_in_page(browser, world.alpha.owner, timeout=30_000)
    site = live_site.workspace(str(world.alpha.tenant.slug))
    page.goto(f"{site}/sales/contacts/{contact_id}/")
    panel = page.get_by_test_id("documents-panel")
    zone = panel.locator("[data-document-upload][data-upload-ready]").first
    html = b"<!DOCTYPE html><html><script>document.title='ran'</script></html>"
    encoded = [{"name": "page.html", "type": "text/html", "data": base64.b64encode(html).decode()}]
    zone.dispatch_event("drop", {"dataTransfer": page.evaluate_handle(DRAGGED, encoded)})
    expect(panel.get_by_role("link", name="page.html")).to_be_visible()
    url = f"{site}/documents/{orm(_document_id, world, 'page.html')}/download/"

    # The live server (ASGI) streams the bytes itself, with the headers S3 could not send.
    answer = page.evaluate(FETCHED, url)
    assert answer["status"] == 200
    assert answer["body"] == html.decode()
    assert answer["headers"]["content-type"] == "application/octet-stream"
    assert answer["headers"]["content-disposition"].startswith('attachment; filename="page.html"')
    assert answer["headers"]["x-content-type-options"] == "nosniff"
    assert answer["headers"]["content-security-policy"] == "sandbox; default-src 'none'"

    # Followed by the browser, it is saved, never shown or run.
    with page.expect_download() as started:
        page.evaluate(CLICK_LINK, url)
    download = started.value
    assert download.suggested_filename == "page.html"
    assert Path(download.path()).read_bytes() == html
    assert page.title() != "ran"
    page.context.close()
