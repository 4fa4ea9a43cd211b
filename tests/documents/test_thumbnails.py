"""A PDF's first page becomes a PNG thumbnail in the background (PDFium through pypdfium2);
images and PDFs preview on the document's page."""

from __future__ import annotations

import io
from datetime import timedelta

import pypdfium2 as pdfium
import requests
from django.utils import timezone
from django_tenants.utils import schema_context
from PIL import Image

from crm_modules.documents import services, tasks
from crm_modules.documents.models import Document
from crm_platform import s3
from crm_platform.security import content_security_policy
from tests.conftest import workspace_client
from tests.documents.conftest import upload

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _pdf(width: int = 595, height: int = 842) -> bytes:
    document = pdfium.PdfDocument.new()
    document.new_page(width, height)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _objects(schema: str) -> list[str]:
    return sorted(item["key"] for item in s3.workspace_objects(schema_name=schema))


def test_a_pdf_gets_a_first_page_thumbnail_after_commit(
    in_alpha, s3_bucket, django_capture_on_commit_callbacks
):
    schema = in_alpha.tenant.schema_name
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        document = upload(in_alpha.owner, _pdf(), name="Offer.pdf", content_type="application/pdf")
    version = document.versions.get()
    assert version.thumbnail_key == ""  # nothing is rendered before the commit
    for callback in callbacks:
        callback()

    version.refresh_from_db()
    expected = f"workspaces/{schema}/documents/{document.uuid}/thumbnails/1.png"
    assert version.thumbnail_key == expected
    assert _objects(schema) == sorted([version.key, expected])
    url = services.document_thumbnail_url(actor=in_alpha.owner, document=document)
    assert url is not None
    fetched = requests.get(url, timeout=10)
    assert fetched.headers["Content-Type"] == "image/png"
    assert fetched.content.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(fetched.content)).size == (400, 566)
    # Rendering again does nothing.
    assert tasks.render_pdf_thumbnail.delay(version_id=version.pk).get() is False


def test_a_pdf_that_cannot_be_rendered_gets_no_thumbnail(in_alpha, s3_bucket):
    document = upload(
        in_alpha.owner, b"%PDF-1.4\nnot really a PDF", name="x.pdf", content_type="application/pdf"
    )
    version = document.versions.get()

    assert tasks.render_pdf_thumbnail.delay(version_id=version.pk).get() is False

    version.refresh_from_db()
    assert version.thumbnail_key == ""
    assert _objects(in_alpha.tenant.schema_name) == [version.key]
    assert services.document_thumbnail_url(actor=in_alpha.owner, document=document) is None


def test_other_types_are_not_rendered(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, b"words", name="a.txt", content_type="text/plain")
    assert tasks.render_pdf_thumbnail.delay(version_id=document.versions.get().pk).get() is False
    assert _objects(in_alpha.tenant.schema_name) == [document.versions.get().key]


def test_the_page_previews_a_pdf_by_its_thumbnail_and_an_image_inline(alpha, s3_bucket):
    schema = alpha.tenant.schema_name
    with schema_context(schema):
        pdf = upload(alpha.owner, _pdf(), name="Offer.pdf", content_type="application/pdf")
        tasks.render_pdf_thumbnail.delay(version_id=pdf.versions.get().pk).get()
        image = upload(
            alpha.owner,
            b"\x89PNG\r\n\x1a\n" + b"\0" * 16,
            name="scan.png",
            content_type="image/png",
        )
        text = upload(alpha.owner, b"<html>", name="a.html", content_type="text/plain")
    client = workspace_client(alpha.owner.user, alpha.tenant)

    pdf_page = client.get(f"/documents/{pdf.pk}/").content.decode()
    assert f'<img src="/documents/{pdf.pk}/thumbnail/" alt="First page of Offer.pdf">' in pdf_page
    image_page = client.get(f"/documents/{image.pk}/").content.decode()
    assert f'<img src="/documents/{image.pk}/download/" alt="scan.png">' in image_page
    assert 'data-testid="preview"' not in client.get(f"/documents/{text.pk}/").content.decode()

    thumbnail = client.get(f"/documents/{pdf.pk}/thumbnail/")
    assert thumbnail.status_code == 302
    assert thumbnail["X-Content-Type-Options"] == "nosniff"
    assert requests.get(thumbnail["Location"], timeout=10).content.startswith(PNG_SIGNATURE)
    assert client.get(f"/documents/{image.pk}/thumbnail/").status_code == 404


def test_previews_may_load_from_the_bucket(settings):
    settings.AWS_STORAGE_BUCKET_NAME = "rapport"
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9000"
    assert "img-src 'self' data: blob: http://127.0.0.1:9000;" in content_security_policy()


def test_the_trash_purge_removes_thumbnails_too(in_alpha, s3_bucket):
    schema = in_alpha.tenant.schema_name
    document = upload(in_alpha.owner, _pdf(), name="Old.pdf", content_type="application/pdf")
    tasks.render_pdf_thumbnail.delay(version_id=document.versions.get().pk).get()
    assert len(_objects(schema)) == 2
    services.document_delete(actor=in_alpha.owner, document=document)
    Document.objects.filter(pk=document.pk).update(deleted_at=timezone.now() - timedelta(days=31))

    assert services.documents_purge_expired(schema_name=schema) == 1
    assert _objects(schema) == []
