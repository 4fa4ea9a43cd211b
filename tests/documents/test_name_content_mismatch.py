"""A name whose extension the bytes contradict is refused when the upload completes, naming
the field (``name``) and the problem, and the object is deleted (ADR 0077): a name claiming a
previewable type must hold exactly that type, a name claiming an office file, an archive or
media must not hold a page or an executable. Text files are never refused for their text."""

from __future__ import annotations

import pytest
import requests
from django_tenants.utils import schema_context

from crm_modules.documents import services
from crm_modules.documents.models import Document, DocumentVersion
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tests.conftest import workspace_client
from tests.documents.conftest import put, upload

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 24
HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\0" * 64
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _nothing_left(schema: str) -> None:
    assert s3.workspace_objects(schema_name=schema) == []
    assert not Document.objects.exists()
    assert not DocumentVersion.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="document.").exists()


NO_TYPE = "of no type we recognise"
PE = "application/vnd.microsoft.portable-executable"


@pytest.mark.parametrize(
    ("name", "declared", "body", "extension", "content"),
    [
        ("contract.pdf", "image/png", PNG, "pdf", "image/png"),
        ("contract.pdf", "application/octet-stream", PNG, "pdf", "image/png"),
        ("photo.jpg", "text/html", HTML, "jpg", "text/html"),
        ("Фото.JPEG", "image/png", PNG, "jpeg", "image/png"),
        ("scan.png", "image/jpeg", JPEG, "png", "image/jpeg"),
        ("setup.gif", "application/octet-stream", EXE, "gif", PE),
        ("scan.pdf", "application/octet-stream", b"no signature at all", "pdf", NO_TYPE),
        ("report.docx", DOCX, HTML, "docx", "text/html"),
        ("slides.zip", "application/zip", SVG, "zip", "image/svg+xml"),
    ],
)
def test_bytes_the_name_contradicts_are_refused_and_removed(
    in_alpha, s3_bucket, name, declared, body, extension, content
):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name=name, content_type=declared, size=len(body)
    )
    assert put(ticket, body).status_code == 200

    with pytest.raises(ServiceError) as refused:
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)

    assert refused.value.field == "name"
    assert refused.value.message == (
        f"The name ends in .{extension}, but the file's content is {content}. "
        "Upload the real file or give it a name that says what it is."
    )
    _nothing_left(in_alpha.tenant.schema_name)


@pytest.mark.parametrize(
    ("name", "declared", "body"),
    [
        ("Offer.pdf", "application/pdf", PDF),
        ("scan.png", "image/png", PNG),
        ("deals.csv", "text/csv", "name,city\nАна,Roma\n".encode()),
        ("notes.txt", "text/plain", "ราคา 价格\n".encode()),
        ("readme.md", "text/markdown", b"# Title\n"),
        ("data.json", "application/json", b'{"a": 1}'),
        # Text is never refused for its text, even text that a browser would render: it is
        # only ever downloaded, streamed with nosniff.
        ("notes.txt", "text/plain", HTML),
        ("page.csv", "text/csv", SVG),
        # Active names are not refused: they are what they say, and only ever downloaded.
        ("page.html", "text/html", HTML),
        ("logo.svg", "image/svg+xml", SVG),
        # No extension claims nothing.
        ("README", "application/octet-stream", EXE),
    ],
)
def test_bytes_the_name_does_not_contradict_are_kept(in_alpha, s3_bucket, name, declared, body):
    document = upload(in_alpha.owner, body, name=name, content_type=declared)
    assert document.name == name
    assert DocumentVersion.objects.filter(document=document).count() == 1


def test_a_new_version_whose_name_the_bytes_contradict_is_refused(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, PDF, name="Offer.pdf", content_type="application/pdf")
    ticket = services.document_upload_start(
        actor=in_alpha.owner,
        name="Offer v2.pdf",
        content_type="image/png",
        size=len(PNG),
        document=document,
    )
    assert put(ticket, PNG).status_code == 200

    with pytest.raises(ServiceError) as refused:
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)

    assert refused.value.field == "name"
    document.refresh_from_db()
    assert (document.name, document.current_version) == ("Offer.pdf", 1)
    keys = [o["key"] for o in s3.workspace_objects(schema_name=in_alpha.tenant.schema_name)]
    assert keys == [document.versions.get().key]


def test_the_page_answers_the_refusal_naming_the_field(alpha, s3_bucket):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    started = client.post(
        "/documents/uploads/",
        {"name": "contract.pdf", "content_type": "image/png", "size": len(PNG)},
    ).json()
    assert requests.put(started["url"], data=PNG, headers=started["headers"], timeout=10).ok

    completed = client.post("/documents/uploads/complete/", {"ticket": started["ticket"]})

    assert completed.status_code == 400
    assert completed.json() == {
        "error": {
            "message": "The name ends in .pdf, but the file's content is image/png. "
            "Upload the real file or give it a name that says what it is.",
            "field": "name",
        }
    }
    with schema_context(alpha.tenant.schema_name):
        _nothing_left(alpha.tenant.schema_name)


def test_the_api_answers_the_refusal_naming_the_field(alpha, s3_bucket):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    started = client.post(
        "/api/v1/documents/uploads/",
        {"name": "photo.jpg", "content_type": "text/html", "size": len(HTML)},
        content_type="application/json",
    ).json()
    assert requests.put(started["url"], data=HTML, headers=started["headers"], timeout=10).ok

    completed = client.post(
        "/api/v1/documents/uploads/complete/",
        {"ticket": started["ticket"]},
        content_type="application/json",
    )

    assert completed.status_code == 400
    assert completed.json()["error"]["fields"] == {
        "name": [
            "The name ends in .jpg, but the file's content is text/html. "
            "Upload the real file or give it a name that says what it is."
        ]
    }
    with schema_context(alpha.tenant.schema_name):
        _nothing_left(alpha.tenant.schema_name)
