"""A large file goes from the browser to S3 (moto) in parts with a progress bar; the connection
drops on the second part, and resuming sends only the parts S3 does not hold."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.conf import settings
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Route, expect

from crm_modules.documents import services
from crm_modules.documents.models import Document
from tenants.audit.models import AuditEvent
from tenants.models import Membership
from tests.conftest import World
from tests.documents.conftest import s3_bucket
from tests.e2e.conftest import MOBILE, LiveSite, capture, orm, session_key
from tests.ops.conftest import s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]

MIB = 1024**2
BODY = b"%PDF-1.4\n" + bytes(range(256)) * (11 * MIB // 256)


def _clean_up(world: World) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Document.objects.all().delete()
        AuditEvent.objects.filter(action__startswith="document.").delete()


@pytest.fixture
def committed(world: World, live_site: LiveSite, settings: Any) -> Iterator[World]:
    settings.DOCUMENTS_MULTIPART_THRESHOLD_BYTES = 6 * MIB
    settings.DOCUMENTS_MULTIPART_PART_BYTES = 5 * MIB
    yield world
    orm(_clean_up, world)


def test_a_large_upload_resumes_after_the_connection_drops(
    committed: World, live_site: LiveSite, browser: Browser
) -> None:
    world = committed
    context = browser.new_context(viewport=MOBILE, has_touch=True)
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

    sent: Counter[int] = Counter()
    dropped: list[int] = []

    def part(route: Route) -> None:
        query = parse_qs(urlparse(route.request.url).query)
        if route.request.method != "PUT" or "partNumber" not in query:
            route.continue_()
            return
        number = int(query["partNumber"][0])
        sent[number] += 1
        if number == 2 and not dropped:
            dropped.append(number)
            route.abort("connectionreset")
            return
        route.continue_()

    page.route(f"{settings.AWS_S3_ENDPOINT_URL}/**", part)
    page.goto(f"{live_site.workspace(str(world.alpha.tenant.slug))}/documents/")
    zone = page.locator("[data-document-upload][data-upload-ready]")
    zone.locator("[data-upload-input]").first.set_input_files(
        {"name": "Scan.pdf", "mimeType": "application/pdf", "buffer": BODY}
    )

    resume = page.get_by_role("button", name="Resume upload")
    expect(resume).to_be_visible()
    expect(zone.locator("[data-upload-status]")).to_have_text(
        "The connection dropped. The parts sent so far are kept: resume to send the rest."
    )
    progress = zone.locator("[data-upload-progress]")
    value = int(progress.evaluate("element => element.value"))
    assert 45 <= value < 100  # part 1 of 5 MiB out of 11 MiB is in
    assert orm(lambda: _documents(world)) == []
    capture(page, "documents-upload-interrupted")

    resume.tap()
    row = page.locator("[data-testid=documents] tbody tr").filter(has_text="Scan.pdf")
    expect(row).to_be_visible()
    # Part 1 went once; part 2 twice (dropped, then resumed); part 3 once.
    assert sent == Counter({1: 1, 2: 2, 3: 1})
    context.close()

    documents = orm(lambda: _documents(world))
    assert documents == [("Scan.pdf", len(BODY), 1)]
    url = orm(_download_url, world)
    fetched = requests.get(url, timeout=30).content
    assert hashlib.sha256(fetched).hexdigest() == hashlib.sha256(BODY).hexdigest()


def _documents(world: World) -> list[tuple[str, int, int]]:
    with schema_context(world.alpha.tenant.schema_name):
        return list(Document.objects.values_list("name", "size", "current_version"))


def _download_url(world: World) -> str:
    with schema_context(world.alpha.tenant.schema_name):
        actor = Membership.objects.select_related("tenant", "user").get(pk=world.alpha.owner.pk)
        return services.document_download_url(actor=actor, document=Document.objects.get())
