"""Uploads, new versions and deletions show on the timeline of every record the document is
linked to, through the activities facade."""

from __future__ import annotations

import pytest

from crm_modules.activities.api import entry_type, timeline
from crm_modules.activities.models import Activity
from crm_modules.documents import services
from crm_platform.errors import ServiceError
from tenants.roles import Role
from tests.conftest import record_page, workspace_client
from tests.documents.conftest import put, upload
from tests.sales.factories import ContactFactory, DealFactory

PDF = b"%PDF-1.4\n" + b"x" * 64


def _entries(record) -> list[tuple[str, str, int | None]]:
    return [(a.kind, a.subject, a.data.get("version")) for a in timeline(record)]


def test_the_entry_types_are_registered_with_the_timeline():
    labels = {}
    for code in ("document_added", "document_version", "document_deleted"):
        entry = entry_type(code)
        assert entry is not None
        assert entry.manual is False
        labels[code] = str(entry.label)
    assert labels == {
        "document_added": "Document attached",
        "document_version": "New version of a document",
        "document_deleted": "Document moved to the trash",
    }


def test_upload_version_and_delete_show_on_every_linked_record(in_alpha, s3_bucket):
    rep = in_alpha.members[Role.SALES_REP]
    contact = ContactFactory.create(owner=rep.user)
    deal = DealFactory.create(owner=rep.user)

    document = upload(rep, PDF, name="Offer.pdf", record_type="sales.contact", record_id=contact.pk)
    assert _entries(contact) == [("document_added", "Offer.pdf", 1)]
    assert _entries(deal) == []

    services.document_link(
        actor=rep, document=document, record_type="sales.deal", record_id=deal.pk
    )
    assert _entries(deal) == [("document_added", "Offer.pdf", 1)]
    # Linking again changes nothing.
    services.document_link(
        actor=rep, document=document, record_type="sales.deal", record_id=deal.pk
    )
    assert len(_entries(deal)) == 1

    ticket = services.document_upload_start(
        actor=rep, name="Offer v2.pdf", content_type="application/pdf", size=9, document=document
    )
    assert put(ticket, b"%PDF-1.4\n").status_code == 200
    services.document_upload_complete(actor=rep, ticket=ticket.ticket)
    services.document_version_restore(actor=rep, document=document, number=1)
    services.document_delete(actor=rep, document=document)

    expected = [
        ("document_deleted", "Offer v2.pdf", 3),
        ("document_version", "Offer v2.pdf", 3),
        ("document_version", "Offer v2.pdf", 2),
    ]
    assert _entries(contact)[:3] == expected
    assert _entries(deal)[:3] == expected
    assert len(_entries(contact)) == len(_entries(deal)) == 4
    # One entry each, shown on both records.
    assert Activity.objects.filter(kind__startswith="document_").count() == 5
    assert {a.author_id for a in Activity.objects.filter(kind__startswith="document_")} == {
        rep.user_id
    }


def test_a_document_linked_to_no_record_writes_no_entry(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, PDF)
    services.document_delete(actor=in_alpha.owner, document=document)
    assert not Activity.objects.filter(kind__startswith="document_").exists()


def test_a_refused_completion_writes_no_entry(in_alpha, s3_bucket):
    rep = in_alpha.members[Role.SALES_REP]
    contact = ContactFactory.create(owner=rep.user)
    ticket = services.document_upload_start(
        actor=rep,
        name="x.pdf",
        content_type="application/pdf",
        size=len(PDF),
        record_type="sales.contact",
        record_id=contact.pk,
    )
    assert put(ticket, PDF).status_code == 200
    services.document_upload_complete(actor=rep, ticket=ticket.ticket)
    with pytest.raises(ServiceError, match="already complete"):
        services.document_upload_complete(actor=rep, ticket=ticket.ticket)
    assert len(_entries(contact)) == 1


def test_the_contact_page_shows_the_document_and_its_timeline_entry(alpha, s3_bucket):
    from django_tenants.utils import schema_context

    rep = alpha.members[Role.SALES_REP]
    with schema_context(alpha.tenant.schema_name):
        contact = ContactFactory.create(owner=rep.user)
        document = upload(
            rep, PDF, name="Договор.pdf", record_type="sales.contact", record_id=contact.pk
        )
    body = record_page(workspace_client(rep.user, alpha.tenant), f"/sales/contacts/{contact.pk}/")

    assert f'data-document="{document.pk}"' in body
    assert 'data-kind="document_added"' in body
    assert "<strong>Document attached</strong> · Договор.pdf" in body
