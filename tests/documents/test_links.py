"""Linking a document already in the workspace to one more record, and unlinking it: through
the service, the API and the record's Documents panel. A member links documents they see to
records they may edit; a document keeps at least one record (ADR 0073)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from crm_modules.activities.models import Activity
from crm_modules.documents import services
from crm_modules.documents.models import Document, DocumentLink
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import Workspace, record_page, workspace_client
from tests.sales.factories import ContactFactory, DealFactory


def _document(workspace: Workspace, name: str, *links: tuple[str, int]) -> Document:
    with schema_context(workspace.tenant.schema_name):
        document = Document.objects.create(
            name=name, content_type="application/pdf", size=3, uploaded_by=workspace.owner.user
        )
        for record_type, record_id in links:
            DocumentLink.objects.create(
                document=document, record_type=record_type, record_id=record_id
            )
        return document


def _links(workspace: Workspace, document: Document) -> list[tuple[str, int]]:
    with schema_context(workspace.tenant.schema_name):
        return sorted(
            DocumentLink.objects.filter(document=document).values_list("record_type", "record_id")
        )


def _audited(workspace: Workspace, action: str) -> list[dict[str, object]]:
    with schema_context(workspace.tenant.schema_name):
        return list(AuditEvent.objects.filter(action=action).values_list("data", flat=True))


def test_a_rep_links_a_document_to_their_deal_and_unlinks_it_from_their_contact(in_alpha):
    rep = in_alpha.members[Role.SALES_REP]
    contact = ContactFactory.create(owner=rep.user)
    deal = DealFactory.create(owner=rep.user)
    document = _document(in_alpha, "Offer.pdf", ("sales.contact", contact.pk))

    link, created = services.document_link(
        actor=rep, document=document, record_type="sales.deal", record_id=deal.pk
    )

    assert created
    assert (link.record_type, link.record_id, link.linked_by_id) == (
        "sales.deal",
        deal.pk,
        rep.user_id,
    )
    assert _links(in_alpha, document) == sorted(
        [("sales.contact", contact.pk), ("sales.deal", deal.pk)]
    )
    assert _audited(in_alpha, "document.linked") == [
        {"record_type": "sales.deal", "record_id": deal.pk}
    ]
    assert Activity.objects.filter(kind="document_added", subject="Offer.pdf").count() == 1
    # Linking again changes nothing and tells nothing.
    assert (
        services.document_link(
            actor=rep, document=document, record_type="sales.deal", record_id=deal.pk
        )[1]
        is False
    )
    assert len(_audited(in_alpha, "document.linked")) == 1

    services.document_unlink(
        actor=rep, document=document, record_type="sales.contact", record_id=contact.pk
    )

    assert _links(in_alpha, document) == [("sales.deal", deal.pk)]
    assert _audited(in_alpha, "document.unlinked") == [
        {"record_type": "sales.contact", "record_id": contact.pk}
    ]


def test_the_last_record_of_a_document_cannot_be_unlinked(in_alpha):
    deal = DealFactory.create(owner=in_alpha.owner.user)
    document = _document(in_alpha, "Only.pdf", ("sales.deal", deal.pk))

    with pytest.raises(ServiceError) as refused:
        services.document_unlink(
            actor=in_alpha.owner, document=document, record_type="sales.deal", record_id=deal.pk
        )

    assert refused.value.field == "record_id"
    assert refused.value.message == (
        "This is the only record the document is linked to; delete the document instead."
    )
    assert _links(in_alpha, document) == [("sales.deal", deal.pk)]
    assert _audited(in_alpha, "document.unlinked") == []


def test_a_record_the_member_may_see_but_not_edit_is_refused(in_alpha):
    rep = in_alpha.members[Role.SALES_REP]
    colleague_deal = DealFactory.create(owner=in_alpha.owner.user)
    document = _document(in_alpha, "Loose.pdf")

    with pytest.raises(PermissionDenied):
        services.document_link(
            actor=rep, document=document, record_type="sales.deal", record_id=colleague_deal.pk
        )

    assert _links(in_alpha, document) == []
    assert _audited(in_alpha, "document.linked") == []


# Linking a loose document to the Owner's deal: who may edit it (the Owner is in no team, so a
# Manager's team scope and a rep's own scope do not reach it; the others may not edit deals).
OWNERS_DEAL = {
    Role.OWNER: 201,
    Role.ADMIN: 201,
    Role.MANAGER: 403,
    Role.SALES_REP: 403,
    Role.SUPPORT_AGENT: 403,
    Role.MARKETER: 403,
    Role.READ_ONLY: 403,
}


@pytest.mark.parametrize(("role", "status"), OWNERS_DEAL.items())
def test_each_role_links_through_the_api_only_to_records_it_may_edit(alpha, role, status):
    with schema_context(alpha.tenant.schema_name):
        deal = DealFactory.create(owner=alpha.owner.user)
    document = _document(alpha, "Договор.pdf")
    client = workspace_client(alpha.members[role].user, alpha.tenant)

    response = client.post(
        f"/api/v1/documents/{document.pk}/links/",
        {"record_type": "sales.deal", "record_id": deal.pk},
        content_type="application/json",
    )

    assert response.status_code == status, response.content
    if status == 201:
        body = response.json()
        assert (body["document"], body["record_type"], body["record_id"]) == (
            document.pk,
            "sales.deal",
            deal.pk,
        )
        assert body["linked_by"] == alpha.members[role].user_id
        assert _links(alpha, document) == [("sales.deal", deal.pk)]
    else:
        assert response.json()["error"]["code"] == "permission_denied"
        assert _links(alpha, document) == []


@pytest.mark.parametrize(
    ("role", "make"),
    [
        (Role.SALES_REP, lambda member: ("sales.deal", DealFactory.create(owner=member.user).pk)),
        (Role.MANAGER, lambda member: ("sales.deal", DealFactory.create(owner=member.user).pk)),
        (Role.MARKETER, lambda member: ("sales.contact", ContactFactory.create().pk)),
    ],
)
def test_a_role_links_to_a_record_within_its_edit_scope(alpha, role, make):
    member = alpha.members[role]
    with schema_context(alpha.tenant.schema_name):
        record_type, record_id = make(member)
    document = _document(alpha, "Brief.pdf")
    client = workspace_client(member.user, alpha.tenant)

    response = client.post(
        f"/api/v1/documents/{document.pk}/links/",
        {"record_type": record_type, "record_id": record_id},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert _links(alpha, document) == [(record_type, record_id)]


def test_the_api_unlinks_and_refuses_the_last_record(alpha):
    with schema_context(alpha.tenant.schema_name):
        deal = DealFactory.create(owner=alpha.owner.user)
        contact = ContactFactory.create(owner=alpha.owner.user)
    document = _document(alpha, "Offer.pdf", ("sales.deal", deal.pk), ("sales.contact", contact.pk))
    client = workspace_client(alpha.owner.user, alpha.tenant)
    url = f"/api/v1/documents/{document.pk}/links/remove/"

    removed = client.post(url, {"record_type": "sales.deal", "record_id": deal.pk})
    assert removed.status_code == 204
    assert _links(alpha, document) == [("sales.contact", contact.pk)]

    last = client.post(url, {"record_type": "sales.contact", "record_id": contact.pk})
    assert last.status_code == 400
    assert last.json()["error"]["fields"] == {
        "record_id": [
            "This is the only record the document is linked to; delete the document instead."
        ]
    }
    not_linked = client.post(url, {"record_type": "sales.deal", "record_id": deal.pk})
    assert not_linked.json()["error"]["fields"] == {
        "record_id": ["This document is not linked to this record."]
    }
    assert _links(alpha, document) == [("sales.contact", contact.pk)]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"record_type": "sales.deal", "record_id": 987654321},
            {"record_id": ["This record does not exist."]},
        ),
        (
            {"record_type": "sales.nothing", "record_id": 1},
            {"record_type": ['"sales.nothing" is not a valid choice.']},
        ),
        (
            {"record_type": "sales.deal", "record_id": "first"},
            {"record_id": ["A valid integer is required."]},
        ),
        (
            {},
            {"record_type": ["This field is required."], "record_id": ["This field is required."]},
        ),
    ],
)
def test_bad_input_names_the_field(alpha, body, fields):
    document = _document(alpha, "Offer.pdf")
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.post(
        f"/api/v1/documents/{document.pk}/links/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == fields
    assert _links(alpha, document) == []


def test_another_workspaces_document_is_not_found(alpha, bravo):
    foreign = _document(bravo, "Secret.pdf")
    with schema_context(alpha.tenant.schema_name):
        deal = DealFactory.create(owner=alpha.owner.user)
        assert not Document.objects.filter(pk=foreign.pk).exists()
    client = workspace_client(alpha.owner.user, alpha.tenant)

    for url in (
        f"/api/v1/documents/{foreign.pk}/links/",
        f"/api/v1/documents/{foreign.pk}/links/remove/",
    ):
        response = client.post(url, {"record_type": "sales.deal", "record_id": deal.pk})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert (
        client.post(
            f"/documents/{foreign.pk}/links/", {"record_type": "sales.deal", "record_id": deal.pk}
        ).status_code
        == 404
    )
    assert _links(bravo, foreign) == []


def test_a_document_hidden_by_record_visibility_cannot_be_linked(alpha):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(restrict_record_visibility=True)
    alpha.tenant.refresh_from_db()
    rep = alpha.members[Role.SALES_REP]
    with schema_context(alpha.tenant.schema_name):
        boss_deal = DealFactory.create(owner=alpha.owner.user)
        rep_deal = DealFactory.create(owner=rep.user)
    hidden = _document(alpha, "Secret.pdf", ("sales.deal", boss_deal.pk))
    client = workspace_client(rep.user, alpha.tenant)

    response = client.post(
        f"/api/v1/documents/{hidden.pk}/links/",
        {"record_type": "sales.deal", "record_id": rep_deal.pk},
    )

    assert response.status_code == 404
    assert _links(alpha, hidden) == [("sales.deal", boss_deal.pk)]


# --- the record's Documents panel ----------------------------------------------------------


def _choices_html(client: Client, record_type: str, record_id: int, **extra: str) -> str:
    params: dict[str, str | int] = {"record_type": record_type, "record_id": record_id, **extra}
    answer = client.get("/documents/links/choices/", params)
    return str(answer.content.decode())


def test_the_panel_searches_links_and_unlinks_with_htmx(alpha):
    rep = alpha.members[Role.SALES_REP]
    with schema_context(alpha.tenant.schema_name):
        deal = DealFactory.create(owner=rep.user)
        contact = ContactFactory.create(owner=rep.user)
    on_deal = _document(
        alpha, "На сделке.pdf", ("sales.deal", deal.pk), ("sales.contact", contact.pk)
    )
    loose = _document(alpha, "สัญญา 合同.pdf")
    client = workspace_client(rep.user, alpha.tenant)

    choices = _choices_html(client, "sales.deal", deal.pk)
    assert "สัญญา 合同.pdf" in choices
    assert "На сделке.pdf" not in choices  # already on this record
    assert "合同" in _choices_html(client, "sales.deal", deal.pk, q="合同")
    assert "No other document has this name." in _choices_html(
        client, "sales.deal", deal.pk, q="zzz"
    )

    linked = client.post(
        f"/documents/{loose.pk}/links/",
        {"record_type": "sales.deal", "record_id": deal.pk},
        HTTP_HX_REQUEST="true",
    )
    assert linked.status_code == 200
    panel = linked.content.decode()
    assert 'data-testid="documents-panel"' in panel
    assert "สัญญา 合同.pdf" in panel
    assert panel.count('data-testid="document-unlink"') == 2
    assert _links(alpha, loose) == [("sales.deal", deal.pk)]

    unlinked = client.post(
        f"/documents/{on_deal.pk}/links/remove/",
        {"record_type": "sales.deal", "record_id": deal.pk},
        HTTP_HX_REQUEST="true",
    )
    assert unlinked.status_code == 200
    assert "На сделке.pdf" not in unlinked.content.decode()
    assert _links(alpha, on_deal) == [("sales.contact", contact.pk)]

    refused = client.post(
        f"/documents/{loose.pk}/links/remove/",
        {"record_type": "sales.deal", "record_id": deal.pk},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 400
    assert "This is the only record the document is linked to" in refused.content.decode()
    assert 'data-testid="documents-link-error"' in refused.content.decode()
    assert _links(alpha, loose) == [("sales.deal", deal.pk)]


def test_without_javascript_a_link_lands_on_the_documents_page(alpha):
    with schema_context(alpha.tenant.schema_name):
        deal = DealFactory.create(owner=alpha.owner.user)
    loose = _document(alpha, "Loose.pdf")
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.post(
        f"/documents/{loose.pk}/links/", {"record_type": "sales.deal", "record_id": deal.pk}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/documents/{loose.pk}/"
    bad = client.post(f"/documents/{loose.pk}/links/", {"record_type": "x", "record_id": "y"})
    assert bad.status_code == 400
    assert _links(alpha, loose) == [("sales.deal", deal.pk)]


def test_the_panel_offers_linking_only_where_the_member_may_edit(alpha):
    rep = alpha.members[Role.SALES_REP]
    with schema_context(alpha.tenant.schema_name):
        boss_deal = DealFactory.create(owner=alpha.owner.user)
        own_deal = DealFactory.create(owner=rep.user)
    _document(alpha, "Offer.pdf", ("sales.deal", boss_deal.pk), ("sales.deal", own_deal.pk))
    client = workspace_client(rep.user, alpha.tenant)

    own = record_page(client, f"/sales/deals/{own_deal.pk}/")
    other = record_page(client, f"/sales/deals/{boss_deal.pk}/")

    assert 'data-testid="documents-link"' in own
    assert 'data-testid="document-unlink"' in own
    assert "Offer.pdf" in other
    assert 'data-testid="documents-link"' not in other
    assert 'data-testid="document-unlink"' not in other
    # The choices of a record out of the rep's edit reach are refused when linking.
    assert (
        client.post(
            f"/documents/{_document(alpha, 'Loose.pdf').pk}/links/",
            {"record_type": "sales.deal", "record_id": boss_deal.pk},
        ).status_code
        == 403
    )
