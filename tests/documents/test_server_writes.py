"""What the server itself writes to and reads from S3 — PDF thumbnails rendered in the
background, attachments of inbound email, import files and finished exports — goes through the
one django-storages ``S3Storage`` of crm_platform/s3.py (ADR 0077): the same bucket and
endpoint, the encryption asked for on every write, and the key scheme of the workspace."""

from __future__ import annotations

import io
from typing import Any

import pypdfium2 as pdfium
import pytest
from storages.backends.s3 import S3Storage

from crm_modules.documents import services, tasks
from crm_platform import s3
from tests.documents.conftest import NOTE, upload
from tests.kit_module.models import Note


def _pdf() -> bytes:
    document = pdfium.PdfDocument.new()
    document.new_page(595, 842)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _head(key: str) -> dict[str, Any]:
    from django.conf import settings

    head: dict[str, Any] = s3.s3_client().head_object(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key
    )
    return head


def _keys(schema: str) -> list[str]:
    return sorted(item["key"] for item in s3.workspace_objects(schema_name=schema))


@pytest.fixture(params=["AES256", "aws:kms"])
def encryption(request: pytest.FixtureRequest, settings: Any) -> str:
    settings.AWS_S3_SERVER_SIDE_ENCRYPTION = request.param
    settings.AWS_S3_SSE_KMS_KEY_ID = "alias/rapport-documents" if request.param == "aws:kms" else ""
    return str(request.param)


def test_the_storage_is_the_documents_bucket_with_its_encryption(s3_bucket, settings, encryption):
    storage = s3.object_storage()

    assert isinstance(storage, S3Storage)
    assert storage.bucket_name == s3_bucket
    assert storage.endpoint_url == settings.AWS_S3_ENDPOINT_URL
    assert storage.location == ""
    assert storage.file_overwrite is True
    expected = {"ServerSideEncryption": encryption}
    if encryption == "aws:kms":
        expected["SSEKMSKeyId"] = "alias/rapport-documents"
    assert storage.object_parameters == expected


def test_a_thumbnail_is_written_through_the_storage_encrypted_under_its_key(
    in_alpha, s3_bucket, encryption, django_capture_on_commit_callbacks
):
    schema = in_alpha.tenant.schema_name
    with django_capture_on_commit_callbacks(execute=True):
        document = upload(in_alpha.owner, _pdf(), name="Offer.pdf", content_type="application/pdf")
    version = document.versions.get()

    expected = f"workspaces/{schema}/documents/{document.uuid}/thumbnails/1.png"
    assert version.thumbnail_key == expected
    assert _keys(schema) == sorted([f"workspaces/{schema}/documents/{document.uuid}/1", expected])
    head = _head(expected)
    assert head["ServerSideEncryption"] == encryption
    assert head["ContentType"] == "image/png"
    if encryption == "aws:kms":
        assert head["SSEKMSKeyId"].endswith("alias/rapport-documents")
    with s3.object_storage().open(expected, "rb") as stored:
        assert stored.read(8) == b"\x89PNG\r\n\x1a\n"


def test_an_inbound_attachment_is_written_through_the_storage_encrypted_under_its_key(
    in_alpha, s3_bucket, encryption, notes_attachable
):
    schema = in_alpha.tenant.schema_name
    note = Note.objects.create(title="Inbound", owner=in_alpha.owner.user)
    body = b"%PDF-1.4\n%%EOF\n"

    document = services.document_store(
        tenant=in_alpha.tenant,
        name="fattura.pdf",
        content_type="application/pdf",
        data=body,
        record_type=NOTE,
        record_id=note.pk,
    )

    key = f"workspaces/{schema}/documents/{document.uuid}/1"
    version = document.versions.get()
    assert version.key == key
    assert _keys(schema) == [key]
    head = _head(key)
    assert head["ServerSideEncryption"] == encryption
    assert head["ContentType"] == "application/pdf"
    assert version.checksum == head["ETag"].strip('"')
    with s3.object_storage().open(key, "rb") as stored:
        assert stored.read() == body


def test_a_file_the_server_reads_comes_back_through_the_storage(in_alpha, s3_bucket, tmp_path):
    schema = in_alpha.tenant.schema_name
    key = s3.data_file_key(schema_name=schema, kind="imports", file_uuid="7" * 32, name="source")
    source = tmp_path / "contacts.csv"
    source.write_bytes("name\nАна\nสมชาย\n".encode())

    s3.object_upload(schema_name=schema, key=key, path=str(source), content_type="text/csv")
    s3.object_download(schema_name=schema, key=key, path=str(tmp_path / "back.csv"))

    assert _keys(schema) == [key]
    assert (tmp_path / "back.csv").read_bytes() == source.read_bytes()
    assert _head(key)["ContentType"] == "text/csv"


def test_a_key_outside_the_workspace_is_refused_before_the_storage_is_reached(in_alpha, s3_bucket):
    with pytest.raises(s3.KeyOutsideWorkspace):
        s3.object_put(
            schema_name=in_alpha.tenant.schema_name,
            key="workspaces/other/documents/x/1",
            data=b"x",
            content_type="text/plain",
        )
    assert s3.workspace_objects(schema_name="other") == []


def test_rendering_twice_writes_nothing_more(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, b"words", name="a.txt", content_type="text/plain")
    assert tasks.render_pdf_thumbnail.delay(version_id=document.versions.get().pk).get() is False
    assert _keys(in_alpha.tenant.schema_name) == [document.versions.get().key]
