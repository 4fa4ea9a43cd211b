"""After an upload the server reads the object's first bytes: a previewable type the bytes do
not bear out is refused, anything else is recorded with the type the bytes show, and only a
confirmed safe type is ever served inline."""

from __future__ import annotations

import pytest
import requests
from django_tenants.utils import schema_context

from crm_modules.documents import services
from crm_modules.documents.models import Document, DocumentVersion
from crm_modules.documents.sniffing import sniffed_type
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tests.conftest import workspace_client
from tests.documents.conftest import put, upload

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24
HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"


@pytest.mark.parametrize(
    ("declared", "body", "expected"),
    [
        ("application/pdf", PDF, "application/pdf"),
        ("image/png", PNG, "image/png"),
        ("application/pdf", HTML, "text/html"),
        ("image/png", SVG, "image/svg+xml"),
        ("text/plain", EXE, "application/vnd.microsoft.portable-executable"),
        ("text/plain", b"just words", ""),
        ("text/plain", b"", ""),
    ],
)
def test_the_type_comes_from_the_bytes(declared, body, expected):
    assert sniffed_type(declared=declared, head=body) == expected


@pytest.mark.parametrize(
    ("declared", "body", "looks_like"),
    [
        ("application/pdf", HTML, "text/html"),
        ("image/png", SVG, "image/svg+xml"),
        ("image/jpeg", PDF, "application/pdf"),
        ("image/gif", EXE, "application/vnd.microsoft.portable-executable"),
        ("application/pdf", b"plain words, no PDF", "something else"),
    ],
)
def test_a_previewable_type_the_bytes_deny_is_refused_and_removed(
    in_alpha, s3_bucket, declared, body, looks_like
):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="offer.pdf", content_type=declared, size=len(body)
    )
    assert put(ticket, body).status_code == 200

    with pytest.raises(ServiceError) as refused:
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)

    assert refused.value.field == "content_type"
    assert refused.value.message == (
        f"The file's content is not of the type its name says ({declared}); "
        f"it looks like {looks_like}. Upload the real file."
    )
    assert s3.workspace_objects(schema_name=in_alpha.tenant.schema_name) == []
    assert not Document.objects.exists()
    assert not DocumentVersion.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="document.").exists()


def test_active_content_under_a_harmless_type_is_marked_and_only_downloads(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, HTML, name="notes.txt", content_type="text/plain")
    version = document.versions.get()
    assert (version.content_type, version.sniffed_type) == ("text/plain", "text/html")

    fetched = requests.get(
        services.document_download_url(actor=in_alpha.owner, document=document), timeout=10
    )
    assert fetched.content == HTML
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    assert fetched.headers["Content-Disposition"].startswith('attachment; filename="notes.txt"')


def test_a_confirmed_image_previews_inline(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, PNG, name="scan.png", content_type="image/png")
    assert document.versions.get().sniffed_type == "image/png"

    fetched = requests.get(
        services.document_download_url(actor=in_alpha.owner, document=document), timeout=10
    )
    assert fetched.headers["Content-Type"] == "image/png"
    assert fetched.headers["Content-Disposition"].startswith('inline; filename="scan.png"')


def test_a_version_never_sniffed_downloads_as_an_attachment(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, PDF, name="old.pdf", content_type="application/pdf")
    DocumentVersion.objects.filter(document=document).update(sniffed_type="")

    fetched = requests.get(
        services.document_download_url(actor=in_alpha.owner, document=document), timeout=10
    )
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    assert fetched.headers["Content-Disposition"].startswith("attachment;")


def test_the_page_names_the_field_when_the_content_is_refused(alpha, s3_bucket):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    started = client.post(
        "/documents/uploads/",
        {"name": "invoice.pdf", "content_type": "application/pdf", "size": len(HTML)},
    ).json()
    assert requests.put(started["url"], data=HTML, headers=started["headers"], timeout=10).ok

    completed = client.post("/documents/uploads/complete/", {"ticket": started["ticket"]})

    assert completed.status_code == 400
    assert completed.json()["error"]["field"] == "content_type"
    assert "it looks like text/html" in completed.json()["error"]["message"]
    with schema_context(alpha.tenant.schema_name):
        assert not Document.objects.exists()
    assert s3.workspace_objects(schema_name=alpha.tenant.schema_name) == []
