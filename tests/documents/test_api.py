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


def test_an_integration_uploads_through_the_api_and_downloads(alpha, s3_bucket):
    import requests

    from tests.sales.factories import ContactFactory

    with schema_context(alpha.tenant.schema_name):
        contact = ContactFactory.create(
            first_name="Ана", last_name="Пример", search_text="ана пример"
        )
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    body = b"%PDF-1.4\n" + b"x" * 100

    started = client.post(
        "/api/v1/documents/uploads/",
        {
            "name": "Offer.pdf",
            "content_type": "application/pdf",
            "size": len(body),
            "record_type": "sales.contact",
            "record_id": contact.pk,
        },
        content_type="application/json",
    )
    assert started.status_code == 200
    plan = started.json()
    assert (plan["headers"], plan["parts"], plan["part_size"]) == (
        {"Content-Type": "application/pdf"},
        [],
        0,
    )
    assert requests.put(plan["url"], data=body, headers=plan["headers"], timeout=10).ok

    completed = client.post(
        "/api/v1/documents/uploads/complete/",
        {"ticket": plan["ticket"]},
        content_type="application/json",
    )
    assert completed.status_code == 201
    document_id = completed.json()["id"]
    assert (completed.json()["name"], completed.json()["size"]) == ("Offer.pdf", len(body))

    again = client.post(
        "/api/v1/documents/uploads/complete/",
        {"ticket": plan["ticket"]},
        content_type="application/json",
    )
    assert again.status_code == 400
    assert again.json()["error"]["fields"] == {"ticket": ["This upload is already complete."]}

    listed = client.get("/api/v1/documents/", {"linked": "пример"}).json()["results"]
    assert [d["id"] for d in listed] == [document_id]
    assert client.get("/api/v1/documents/", {"linked": "nobody"}).json()["results"] == []

    download = client.get(f"/api/v1/documents/{document_id}/download/").json()
    assert download["expires_in"] == 60
    assert requests.get(download["url"], timeout=10).content == body

    version = client.post(
        f"/api/v1/documents/{document_id}/versions/",
        {"name": "Offer v2.pdf", "content_type": "application/pdf", "size": 9},
        content_type="application/json",
    )
    assert version.status_code == 200
    assert "/2?" in version.json()["url"]


def test_the_api_refuses_bad_uploads_naming_the_field(alpha, s3_bucket):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    empty = client.post(
        "/api/v1/documents/uploads/",
        {"name": "a.pdf", "content_type": "application/pdf", "size": 0},
        content_type="application/json",
    )
    assert empty.status_code == 400
    assert empty.json()["error"]["fields"] == {"size": ["The file is empty."]}
    unnamed = client.post(
        "/api/v1/documents/uploads/", {"size": 3}, content_type="application/json"
    )
    assert unnamed.status_code == 400
    assert list(unnamed.json()["error"]["fields"]) == ["name"]
    forged = client.post(
        "/api/v1/documents/uploads/complete/", {"ticket": "x"}, content_type="application/json"
    )
    assert forged.status_code == 400
    assert list(forged.json()["error"]["fields"]) == ["ticket"]
    with schema_context(alpha.tenant.schema_name):
        assert not Document.objects.exists()


def test_the_schema_lists_the_upload_operations():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator(urlconf="crm_platform.urls_tenant").get_schema(public=True)["paths"]
    assert {"post"} <= set(paths["/api/v1/documents/uploads/"])
    assert set(paths["/api/v1/documents/uploads/complete/"]) == {"post"}
    assert set(paths["/api/v1/documents/{document_id}/download/"]) == {"get"}
    assert set(paths["/api/v1/documents/{document_id}/content/"]) == {"get"}
    assert set(paths["/api/v1/documents/{document_id}/versions/"]) == {"post"}
    upload = paths["/api/v1/documents/uploads/"]["post"]
    assert set(upload["responses"]) >= {"200"}
