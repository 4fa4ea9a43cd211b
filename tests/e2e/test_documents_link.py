"""On a phone (375 px, touch): from a deal's Documents panel, find a document already attached
to a contact, link it to the deal, unlink it again; on the contact, unlinking its last record
is refused with the reason shown in the panel. Nothing scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from crm_modules.activities.models import Activity
from crm_modules.documents.models import Document, DocumentLink
from crm_modules.sales.models import Contact, Deal, DealStageTotal, Pipeline
from tenants.audit.models import AuditEvent
from tests.conftest import World
from tests.e2e.conftest import LiveSite, capture, orm, phone_page
from tests.sales.factories import ContactFactory, DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

NAME = "Договор สัญญา 合同 с очень длинным названием для узкого экрана.pdf"


def _records(world: World) -> tuple[int, int]:
    owner = world.alpha.owner.user
    with schema_context(world.alpha.tenant.schema_name):
        contact = ContactFactory.create(owner=owner)
        deal = DealFactory.create(owner=owner, name="Сделка E2E-link")
        document = Document.objects.create(name=NAME, content_type="application/pdf", size=3)
        DocumentLink.objects.create(
            document=document, record_type="sales.contact", record_id=contact.pk
        )
        return int(contact.pk), int(deal.pk)


def _clean_up(world: World, records: tuple[int, int]) -> None:
    with schema_context(world.alpha.tenant.schema_name):
        Document.objects.filter(name=NAME).delete()
        Activity.objects.filter(kind__startswith="document_").delete()
        AuditEvent.objects.filter(action__startswith="document.").delete()
        # The deal's factory made a pipeline for it: it goes too, with the totals kept for it.
        pipeline_ids = list(Deal.objects.filter(pk=records[1]).values_list("pipeline", flat=True))
        Deal.objects.filter(pk=records[1]).delete()
        DealStageTotal.objects.filter(stage__pipeline__in=pipeline_ids).delete()
        Pipeline.objects.filter(pk__in=pipeline_ids).delete()
        Contact.objects.filter(pk=records[0]).delete()


@pytest.fixture
def records(world: World, live_site: LiveSite) -> Iterator[tuple[int, int]]:
    made = orm(_records, world)
    yield made
    orm(_clean_up, world, made)


def test_a_document_linked_to_a_deal_and_unlinked_on_a_phone(
    world: World, records: tuple[int, int], live_site: LiveSite, browser: Browser
) -> None:
    contact_id, deal_id = records
    page = phone_page(browser, world.alpha.owner)
    site = live_site.workspace(str(world.alpha.tenant.slug))

    page.goto(f"{site}/sales/deals/{deal_id}/")
    panel = page.get_by_test_id("documents-panel")
    expect(panel).to_contain_text("No documents yet.")
    panel.get_by_text("Link a document already in the workspace").tap()
    panel.get_by_label("Document name").fill("สัญญา")
    choices = panel.get_by_test_id("documents-link-choices")
    expect(choices).to_contain_text(NAME)
    capture(page, "documents-link-choices")
    choices.get_by_role("button", name=f"Link {NAME} to this record").tap()

    panel = page.get_by_test_id("documents-panel")
    expect(panel.get_by_role("link", name=NAME)).to_be_visible()
    capture(page, "documents-linked")
    panel.get_by_role("button", name=f"Unlink {NAME} from this record").tap()
    expect(page.get_by_test_id("documents-panel")).to_contain_text("No documents yet.")

    page.goto(f"{site}/sales/contacts/{contact_id}/")
    panel = page.get_by_test_id("documents-panel")
    panel.get_by_role("button", name=f"Unlink {NAME} from this record").tap()
    expect(page.get_by_test_id("documents-link-error")).to_contain_text(
        "This is the only record the document is linked to; delete the document instead."
    )
    expect(page.get_by_test_id("documents-panel").get_by_role("link", name=NAME)).to_be_visible()
    capture(page, "documents-unlink-refused")
