"""Deleting a record that documents are attached to: its links go (through the record-deleted
hook, the record's module never imports documents) and a document left linked to nothing moves
to the trash; one still linked elsewhere stays where it is."""

from __future__ import annotations

from crm_modules.documents.models import Document, DocumentLink
from crm_modules.documents.services import document_link
from crm_modules.sales import services as sales
from crm_modules.sales.services.bulk import records_bulk_apply
from tenants.audit.models import AuditEvent
from tenants.modules import record_deleted
from tenants.roles import Role
from tests.documents.conftest import upload
from tests.sales.factories import ContactFactory, DealFactory


def test_deleting_a_contact_unlinks_its_documents_and_trashes_the_orphans(in_alpha, s3_bucket):
    owner = in_alpha.owner
    contact = ContactFactory.create(owner=owner.user)
    deal = DealFactory.create(owner=owner.user)
    only_here = upload(owner, b"one", record_type="sales.contact", record_id=contact.pk)
    shared = upload(owner, b"two", record_type="sales.contact", record_id=contact.pk)
    document_link(actor=owner, document=shared, record_type="sales.deal", record_id=deal.pk)
    elsewhere = upload(owner, b"three", record_type="sales.deal", record_id=deal.pk)

    sales.contact_delete(actor=owner, contact=contact)

    assert not DocumentLink.objects.filter(record_type="sales.contact").exists()
    assert Document.objects.get(pk=only_here.pk).deleted_at is not None
    assert Document.objects.get(pk=shared.pk).deleted_at is None
    assert Document.objects.get(pk=elsewhere.pk).deleted_at is None
    assert set(
        DocumentLink.objects.filter(record_type="sales.deal").values_list("document", flat=True)
    ) == {shared.pk, elsewhere.pk}
    trashed = AuditEvent.objects.filter(action="document.deleted")
    assert [(e.target_repr, e.data) for e in trashed] == [
        (only_here.name, {"unlinked": "sales.contact"})
    ]


def test_a_bulk_delete_unlinks_too_and_a_refused_one_changes_nothing(in_alpha, s3_bucket):
    owner, rep = in_alpha.owner, in_alpha.members[Role.SALES_REP]
    deals = DealFactory.create_batch(2, owner=owner.user)
    docs = [
        upload(owner, b"x", record_type="sales.deal", record_id=deal.pk, name=f"{n}.txt")
        for n, deal in enumerate(deals)
    ]
    # A rep may not delete deals: nothing moves.
    refused = records_bulk_apply(
        actor=rep, entity="deal", ids=[d.pk for d in deals], action="delete"
    )
    assert refused.changed == 0
    assert DocumentLink.objects.count() == 2
    assert not Document.objects.filter(deleted_at__isnull=False).exists()

    done = records_bulk_apply(
        actor=owner, entity="deal", ids=[d.pk for d in deals], action="delete"
    )
    assert done.changed == 2
    assert not DocumentLink.objects.exists()
    assert set(Document.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True)) == {
        d.pk for d in docs
    }


def test_a_record_of_a_type_documents_do_not_attach_to_is_ignored(in_alpha, s3_bucket):
    owner = in_alpha.owner
    document = upload(owner, b"x")
    record_deleted(actor=owner, record=owner)  # a membership: not attachable
    assert Document.objects.get(pk=document.pk).deleted_at is None
