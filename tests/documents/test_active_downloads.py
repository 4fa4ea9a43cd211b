"""Active types (HTML, SVG, XML, executables, unknown types) are served by the server itself,
streamed from S3 after the permission check, so that the response carrying the bytes is an
attachment with ``nosniff`` (S3's answer to a presigned GET cannot carry that header; ADR
0077). Inert types keep the presigned redirect."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
import requests
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django_tenants.utils import schema_context

from crm_modules.documents import services
from crm_modules.documents.responses import ATTACHMENT_POLICY, download_response
from crm_platform import s3
from tenants.roles import Role
from tests.conftest import workspace_client
from tests.documents.conftest import upload

HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="4"/></svg>'
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 200
PDF = b"%PDF-1.4 inert"

ACTIVE = [
    pytest.param("Страница.html", "text/html", HTML, id="html"),
    pytest.param("logo.svg", "image/svg+xml", SVG, id="svg"),
    pytest.param("setup.exe", "application/x-msdownload", EXE, id="exe"),
    # Nothing declared, no extension, bytes the sniffer does not name: unknown is active.
    pytest.param("runner", "application/octet-stream", ELF, id="unknown"),
]


def _streamed(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def _assert_attachment_headers(response, name_ascii: str) -> None:
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{name_ascii}"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == ATTACHMENT_POLICY
    assert {"private", "no-store"} <= set(response["Cache-Control"].split(", "))


@pytest.mark.parametrize(("name", "content_type", "body"), ACTIVE)
def test_the_page_streams_an_active_type_as_an_attachment_that_may_not_be_sniffed(
    alpha, s3_bucket, name, content_type, body
):
    with schema_context(alpha.tenant.schema_name):
        document = upload(alpha.owner, body, name=name, content_type=content_type)
    reader = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    response = reader.get(f"/documents/{document.pk}/download/")

    assert response.status_code == 200
    assert _streamed(response) == body
    assert response["Content-Length"] == str(len(body))
    ascii_name = name if name.isascii() else "________.html"
    _assert_attachment_headers(response, ascii_name)


@pytest.mark.parametrize(("name", "content_type", "body"), ACTIVE)
def test_the_api_points_an_active_type_at_its_streamed_content(
    alpha, s3_bucket, name, content_type, body
):
    with schema_context(alpha.tenant.schema_name):
        document = upload(alpha.owner, body, name=name, content_type=content_type)
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    answer = client.get(f"/api/v1/documents/{document.pk}/download/").json()
    assert answer["expires_in"] is None
    assert answer["url"].endswith(f"/api/v1/documents/{document.pk}/content/")

    response = client.get(f"/api/v1/documents/{document.pk}/content/")
    assert response.status_code == 200
    assert _streamed(response) == body
    _assert_attachment_headers(response, name if name.isascii() else "________.html")


def test_an_older_active_version_is_streamed_too(alpha, s3_bucket):
    with schema_context(alpha.tenant.schema_name):
        document = upload(alpha.owner, SVG, name="logo.svg", content_type="image/svg+xml")
        upload(alpha.owner, PDF, name="logo.pdf", content_type="application/pdf", document=document)
    client = workspace_client(alpha.owner.user, alpha.tenant)

    old = client.get(f"/documents/{document.pk}/download/?version=1")
    assert old.status_code == 200
    assert _streamed(old) == SVG
    _assert_attachment_headers(old, "logo.pdf")

    current = client.get(f"/documents/{document.pk}/download/")
    assert current.status_code == 302
    assert requests.get(current["Location"], timeout=10).content == PDF


def test_active_content_under_an_inert_type_is_streamed(alpha, s3_bucket):
    """A text file whose bytes are a page is accepted (text is never refused for its text) but
    its bytes never reach the browser without ``nosniff``."""
    with schema_context(alpha.tenant.schema_name):
        document = upload(alpha.owner, HTML, name="notes.txt", content_type="text/plain")
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.get(f"/documents/{document.pk}/download/")

    assert response.status_code == 200
    assert _streamed(response) == HTML
    _assert_attachment_headers(response, "notes.txt")


def test_inert_types_keep_the_presigned_redirect(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, b"a,b\n1,2\n", name="deals.csv", content_type="text/csv")
    download = services.document_download(actor=in_alpha.owner, document=document)
    assert not download.streamed
    fetched = requests.get(download.url, timeout=10)
    assert fetched.content == b"a,b\n1,2\n"
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    assert fetched.headers["Content-Disposition"].startswith('attachment; filename="deals.csv"')


def test_another_workspaces_member_gets_nothing_streamed(alpha, bravo, s3_bucket):
    with schema_context(alpha.tenant.schema_name):
        document = upload(alpha.owner, HTML, name="page.html", content_type="text/html")
    stranger = workspace_client(bravo.owner.user, bravo.tenant)

    assert stranger.get(f"/documents/{document.pk}/download/").status_code == 404
    assert stranger.get(f"/api/v1/documents/{document.pk}/content/").status_code == 404


def test_the_api_content_streams_an_inert_type_too(alpha, s3_bucket):
    with schema_context(alpha.tenant.schema_name):
        document = upload(alpha.owner, PDF, name="Offer.pdf", content_type="application/pdf")
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    assert client.get(f"/api/v1/documents/{document.pk}/download/").json()["expires_in"] == 60
    response = client.get(f"/api/v1/documents/{document.pk}/content/")

    assert response.status_code == 200
    assert _streamed(response) == PDF
    _assert_attachment_headers(response, "Offer.pdf")


def test_an_active_document_whose_file_is_gone_is_not_found(alpha, s3_bucket):
    with schema_context(alpha.tenant.schema_name):
        document = upload(alpha.owner, SVG, name="logo.svg", content_type="image/svg+xml")
        s3.objects_delete(schema_name=alpha.tenant.schema_name, keys=[document.versions.get().key])
    client = workspace_client(alpha.owner.user, alpha.tenant)

    assert client.get(f"/documents/{document.pk}/download/").status_code == 404
    assert client.get(f"/api/v1/documents/{document.pk}/content/").status_code == 404


def test_under_asgi_the_bytes_are_read_a_chunk_at_a_time(in_alpha, s3_bucket):
    """The one ASGI process (D11) must not read a whole file into memory before sending it, as
    it does with a synchronous iterator: the response streams an asynchronous one."""
    body = EXE * 2000  # several chunks
    document = upload(
        in_alpha.owner, body, name="setup.exe", content_type="application/x-msdownload"
    )
    download = services.document_download(actor=in_alpha.owner, document=document)
    request = ASGIRequest(
        {"type": "http", "method": "GET", "path": "/", "headers": []}, io.BytesIO()
    )

    response = download_response(request, download)

    assert isinstance(response, StreamingHttpResponse)
    assert response.is_async
    assert response["X-Content-Type-Options"] == "nosniff"

    content = response.streaming_content
    assert isinstance(content, AsyncIterator)

    async def received() -> list[bytes]:
        return [chunk async for chunk in content]

    chunks = asyncio.run(received())
    assert b"".join(chunks) == body
    assert len(chunks) == -(-len(body) // s3.STREAM_CHUNK_BYTES)
