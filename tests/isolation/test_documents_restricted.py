"""Documents follow the records they are attached to: with the workspace setting "Sales reps
see only their own records" on, a rep neither lists nor opens, previews, downloads, versions or
deletes a document attached only to records out of their reach — on the pages and through the
API — while documents linked to no record, or to one record they reach, stay theirs to use."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm_modules.documents import selectors
from crm_modules.documents.models import Document, DocumentLink, DocumentVersion
from crm_platform import s3
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.documents.conftest import s3_bucket
from tests.sales.factories import ContactFactory, DealFactory

__all__ = ["s3_bucket"]

# Downloads are presigned for the run's S3 server.
pytestmark = pytest.mark.usefixtures("s3_bucket")


def _restrict(alpha: Workspace, on: bool = True) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(restrict_record_visibility=on)
    alpha.tenant.refresh_from_db()


def _document(alpha: Workspace, name: str, *links: tuple[str, int]) -> Document:
    schema = alpha.tenant.schema_name
    with schema_context(schema):
        document = Document.objects.create(
            name=name,
            content_type="application/pdf",
            size=4,
            current_version=2,
            version_counter=2,
            uploaded_by=alpha.owner.user,
        )
        for number in (1, 2):
            DocumentVersion.objects.create(
                document=document,
                number=number,
                key=s3.document_key(
                    schema_name=schema, document_uuid=str(document.uuid), version=number
                ),
                size=4,
                content_type="application/pdf",
                sniffed_type="application/pdf",
                uploaded_by=alpha.owner.user,
            )
        for record_type, record_id in links:
            DocumentLink.objects.create(
                document=document, record_type=record_type, record_id=record_id
            )
        return document


@pytest.fixture
def documents(alpha: Workspace) -> dict[str, Document]:
    rep = alpha.members[Role.SALES_REP].user
    boss = alpha.owner.user
    with schema_context(alpha.tenant.schema_name):
        boss_deal = DealFactory.create(name="Boss deal", owner=boss)
        rep_deal = DealFactory.create(name="Rep deal", owner=rep)
        rep_contact = ContactFactory.create(first_name="Rep", last_name="Contact", owner=rep)
    return {
        "hidden": _document(alpha, "Secret.pdf", ("sales.deal", boss_deal.pk)),
        "own": _document(alpha, "Own.pdf", ("sales.deal", rep_deal.pk)),
        "shared": _document(
            alpha, "Shared.pdf", ("sales.deal", boss_deal.pk), ("sales.contact", rep_contact.pk)
        ),
        "loose": _document(alpha, "Loose.pdf"),
    }


def _listed(client: Any) -> list[str]:
    return sorted(d["name"] for d in client.get("/api/v1/documents/").json()["results"])


def _page_lists(client: Any, name: str) -> bool:
    return name in client.get("/documents/").content.decode()


VISIBLE = ["Loose.pdf", "Own.pdf", "Shared.pdf"]


def test_unrestricted_a_rep_sees_every_document(alpha, documents) -> None:
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    hidden = documents["hidden"].pk

    assert _listed(rep) == sorted([*VISIBLE, "Secret.pdf"])
    assert _page_lists(rep, "Secret.pdf")
    assert rep.get(f"/documents/{hidden}/").status_code == 200
    assert rep.get(f"/documents/{hidden}/download/").status_code == 302


def test_restricted_a_rep_lists_only_documents_of_records_they_reach(alpha, documents) -> None:
    _restrict(alpha)
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)

    assert _listed(rep) == VISIBLE
    page = rep.get("/documents/").content.decode()
    assert "Secret.pdf" not in page
    assert all(name in page for name in VISIBLE)
    searched = rep.get("/documents/", {"linked": "Boss"}).content.decode()
    assert "Secret.pdf" not in searched
    # The Owner's reach is not narrowed.
    owner = workspace_client(alpha.owner.user, alpha.tenant)
    assert _listed(owner) == sorted([*VISIBLE, "Secret.pdf"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/documents/{id}/"),
        ("get", "/documents/{id}/download/"),
        ("get", "/documents/{id}/download/?version=1"),
        ("get", "/documents/{id}/thumbnail/"),
        ("post", "/documents/{id}/versions/"),
        ("post", "/documents/{id}/versions/1/restore/"),
        ("post", "/documents/{id}/delete/"),
        ("post", "/documents/{id}/links/"),
        ("post", "/documents/{id}/links/remove/"),
        ("post", "/api/v1/documents/{id}/links/"),
        ("post", "/api/v1/documents/{id}/links/remove/"),
        ("get", "/api/v1/documents/{id}/"),
        ("get", "/api/v1/documents/{id}/download/"),
        ("post", "/api/v1/documents/{id}/versions/"),
        ("delete", "/api/v1/documents/{id}/"),
    ],
)
def test_restricted_a_rep_cannot_reach_a_document_of_an_unseen_record(
    alpha, documents, method: str, path: str
) -> None:
    _restrict(alpha)
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    hidden = documents["hidden"]

    response = getattr(rep, method)(path.format(id=hidden.pk))

    assert response.status_code == 404
    with schema_context(alpha.tenant.schema_name):
        hidden.refresh_from_db()
        assert hidden.deleted_at is None
        assert hidden.versions.count() == 2


def test_restricted_a_rep_still_downloads_documents_they_reach(alpha, documents) -> None:
    _restrict(alpha)
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)

    for name in ("own", "shared", "loose"):
        document = documents[name]
        assert rep.get(f"/documents/{document.pk}/").status_code == 200
        assert rep.get(f"/documents/{document.pk}/download/").status_code == 302
        assert rep.get(f"/api/v1/documents/{document.pk}/download/").status_code == 200


def test_restricted_the_trash_shows_only_documents_of_reachable_records(alpha, documents) -> None:
    _restrict(alpha)
    rep = alpha.members[Role.SALES_REP]
    with schema_context(alpha.tenant.schema_name):
        Document.objects.update(deleted_at=documents["loose"].created_at)
        trashed = selectors.document_list(actor=rep, trash=True)
        assert sorted(d.name for d in trashed) == VISIBLE


def test_a_documents_query_does_not_grow_with_the_documents(alpha, documents) -> None:
    _restrict(alpha)
    rep = alpha.members[Role.SALES_REP]
    with schema_context(alpha.tenant.schema_name):
        with CaptureQueriesContext(connection) as few:
            assert len(list(selectors.document_list(actor=rep))) == 3
        deal = DealFactory.create(name="Another boss deal", owner=alpha.owner.user)
        for number in range(5):
            _document(alpha, f"More {number}.pdf", ("sales.deal", deal.pk))
        with CaptureQueriesContext(connection) as many:
            assert len(list(selectors.document_list(actor=rep))) == 3
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len([q for q in many.captured_queries if "documents_document" in q["sql"]]) == 1
