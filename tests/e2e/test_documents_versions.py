"""On a phone (375 px, touch) and on a desktop (1280 px): upload a second version of a
document from its page, see it become current, then restore the first version, which comes
back as a new current version that reads the first one's bytes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, ViewportSize, expect

from crm_modules.activities.models import Activity
from crm_modules.documents import services
from crm_modules.documents.models import Document
from tenants.audit.models import AuditEvent
from tests.conftest import World
from tests.documents.conftest import s3_bucket, upload
from tests.e2e.conftest import DESKTOP, MOBILE, LiveSite, capture, orm, session_key
from tests.ops.conftest import s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]

FIRST = b"Contract, first draft\n"
SECOND = b"Contract, second draft with changes\n"


def _document(world: World) -> int:
    with schema_context(world.alpha.tenant.schema_name):
        return int(upload(world.alpha.owner, FIRST, name="Contratto.txt").pk)


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Document.objects.all().delete()
        Activity.objects.filter(kind__startswith="document_").delete()
        AuditEvent.objects.filter(action__startswith="document.").delete()


@pytest.fixture
def document_id(world: World, live_site: LiveSite) -> Iterator[int]:
    yield orm(_document, world)
    orm(_clean_up, world)


def _current_bytes(world: World, document_id: int) -> tuple[int, int | None, bytes]:
    with schema_context(world.alpha.tenant.schema_name):
        document = Document.objects.get(pk=document_id)
        version = document.versions.get(number=document.current_version)
        url = services.document_download_url(actor=world.alpha.owner, document=document)
    return document.current_version, version.restored_from, requests.get(url, timeout=10).content


@pytest.mark.parametrize("viewport", [MOBILE, DESKTOP], ids=["375px", "1280px"])
def test_upload_a_second_version_then_restore_the_first(
    world: World, document_id: int, live_site: LiveSite, browser: Browser, viewport: ViewportSize
) -> None:
    phone = viewport == MOBILE
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

    page.goto(f"{site}/documents/{document_id}/")
    versions = page.get_by_test_id("versions")
    expect(versions.locator("tbody tr")).to_have_count(1)
    page.locator("[data-upload-ready] [data-upload-input]").first.set_input_files(
        {"name": "Contratto v2.txt", "mimeType": "text/plain", "buffer": SECOND}
    )
    # The page reloads once the new version is complete.
    expect(versions.locator("tbody tr")).to_have_count(2)
    expect(versions.locator('tr[data-version="2"]')).to_contain_text("current")
    assert orm(_current_bytes, world, document_id) == (2, None, SECOND)
    capture(page, f"document-versions-{viewport['width']}")

    restore = versions.locator('tr[data-version="1"]').get_by_role("button", name="Restore")
    if phone:
        restore.tap()
    else:
        restore.click()
    expect(versions.locator("tbody tr")).to_have_count(3)
    third = versions.locator('tr[data-version="3"]')
    expect(third).to_contain_text("current")
    expect(third).to_contain_text("restored from version 1")
    assert orm(_current_bytes, world, document_id) == (3, 1, FIRST)
    capture(page, f"document-version-restored-{viewport['width']}")
    context.close()
