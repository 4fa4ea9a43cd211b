"""The Documents page finds documents by the records they are linked to (in any script), by
record type, and lists those records, in a constant number of queries."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm_modules.documents.models import Document, DocumentLink
from tenants.roles import Role
from tests.conftest import workspace_client
from tests.sales.factories import CompanyFactory, ContactFactory, DealFactory


def _document(owner, name: str, *links: tuple[str, int]) -> Document:
    document = Document.objects.create(
        name=name, content_type="application/pdf", size=10, uploaded_by=owner.user
    )
    for record_type, record_id in links:
        DocumentLink.objects.create(document=document, record_type=record_type, record_id=record_id)
    return document


def _listed(response) -> list[str]:
    return [d.name for d in response.context["documents"]]


def test_documents_are_found_by_the_name_of_a_linked_record(alpha):
    owner = alpha.owner
    with schema_context(alpha.tenant.schema_name):
        maria = ContactFactory.create(
            first_name="Мария", last_name="Иванова", search_text="мария иванова"
        )
        siam = CompanyFactory.create(name="สยามเทค")
        deal = DealFactory.create(name="合同 Renewal")
        _document(owner, "a.pdf", ("sales.contact", maria.pk))
        _document(owner, "b.pdf", ("sales.company", siam.pk))
        _document(owner, "c.pdf", ("sales.deal", deal.pk), ("sales.company", siam.pk))
        _document(owner, "d.pdf")
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    assert _listed(client.get("/documents/", {"linked": "Иванова"})) == ["a.pdf"]
    assert _listed(client.get("/documents/", {"linked": "สยาม"})) == ["c.pdf", "b.pdf"]
    assert _listed(client.get("/documents/", {"linked": "合同"})) == ["c.pdf"]
    assert _listed(client.get("/documents/", {"linked": "renewal"})) == ["c.pdf"]
    assert _listed(client.get("/documents/", {"linked_type": "sales.deal"})) == ["c.pdf"]
    assert _listed(client.get("/documents/", {"linked": "สยาม", "linked_type": "sales.deal"})) == []
    assert _listed(client.get("/documents/", {"linked": "nobody"})) == []
    # With other filters: the name too.
    assert _listed(client.get("/documents/", {"linked": "สยาม", "q": "b."})) == ["b.pdf"]

    page = client.get("/documents/").content.decode()
    assert "Contact: Мария Иванова" in page
    assert "Company: สยามเทค<br>Deal: 合同 Renewal" in page


def test_an_unknown_record_type_is_refused_naming_the_field(alpha):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.get("/documents/", {"linked_type": "sales.nothing"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "linked_type": ["Select a valid choice. sales.nothing is not one of the available choices."]
    }


def test_the_page_runs_the_same_queries_however_many_linked_documents(alpha):
    owner = alpha.owner
    client = workspace_client(owner.user, alpha.tenant)

    def linked_document(name: str) -> None:
        _document(
            owner,
            name,
            ("sales.contact", ContactFactory.create().pk),
            ("sales.company", CompanyFactory.create().pk),
            ("sales.deal", DealFactory.create().pk),
        )

    with schema_context(alpha.tenant.schema_name):
        linked_document("first.pdf")
    client.get("/documents/")
    with CaptureQueriesContext(connection) as few:
        client.get("/documents/")
    with schema_context(alpha.tenant.schema_name):
        for n in range(10):
            linked_document(f"{n}.pdf")
    with CaptureQueriesContext(connection) as many:
        response = client.get("/documents/")
    assert len(_listed(response)) == 11
    # A query per record type that appears, never one per document or link.
    assert len(many) == len(few)
