from __future__ import annotations

from django_tenants.utils import schema_context

from crm_modules.documents.models import Document
from tenants.roles import Role
from tests.conftest import workspace_client


def _document(workspace, name: str) -> Document:
    with schema_context(workspace.tenant.schema_name):
        return Document.objects.create(
            name=name, content_type="application/pdf", size=3, uploaded_by=workspace.owner.user
        )


def test_the_api_lists_deletes_to_the_trash_and_restores(alpha):
    document = _document(alpha, "合同.pdf")
    rep = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)

    listed = rep.get("/api/v1/documents/").json()
    assert [(d["id"], d["name"]) for d in listed["results"]] == [(document.pk, "合同.pdf")]
    assert rep.delete(f"/api/v1/documents/{document.pk}/").status_code == 204
    assert rep.get("/api/v1/documents/").json()["results"] == []
    assert rep.get(f"/api/v1/documents/{document.pk}/").json()["error"]["code"] == "not_found"

    refused = rep.post(f"/api/v1/documents/trash/{document.pk}/restore/")
    assert refused.status_code == 403
    admin = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    restored = admin.post(f"/api/v1/documents/trash/{document.pk}/restore/")
    assert restored.status_code == 200
    assert (restored.json()["id"], restored.json()["deleted_at"]) == (document.pk, None)


def test_another_workspaces_document_is_not_found_through_the_api(alpha, bravo):
    document = _document(alpha, "Secret.pdf")
    client = workspace_client(bravo.owner.user, bravo.tenant)
    response = client.get(f"/api/v1/documents/{document.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/documents/").json()["results"] == []
