"""Presigned requests used other than as signed are refused: an expired upload or download
URL, and an upload URL reused for another key. moto's server checks neither the signature
nor the expiry of a presigned URL, so these tests put ``PresignFront`` (tests/documents/
presign_front.py) in front of it, which checks both as S3 does; the expiries are shortened by
settings and the front's clock moved forward instead of waiting. Each test also shows what
the product does about it: an upload whose bytes never reached the key its ticket names is
refused at completion and nothing is recorded."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django_tenants.utils import schema_context

from crm_modules.documents import services
from crm_modules.documents.models import Document
from crm_platform import s3
from crm_platform.errors import ServiceError
from tests.conftest import workspace_client
from tests.documents.conftest import put
from tests.documents.presign_front import PresignFront

PDF = b"%PDF-1.4 signed for one key"


@pytest.fixture
def front(s3_bucket: str, settings: Any) -> Iterator[PresignFront]:
    """The documents bucket reached through the checking front: every presigned URL points at
    it, and the server's own calls pass through it to moto."""
    with PresignFront(settings.AWS_S3_ENDPOINT_URL, secret="test") as checking:
        settings.AWS_S3_ENDPOINT_URL = checking.url
        yield checking


def _keys(schema: str) -> list[str]:
    return [item["key"] for item in s3.workspace_objects(schema_name=schema)]


def _error_code(response: requests.Response) -> str:
    return response.text.split("<Code>")[1].split("</Code>")[0]


def test_a_presigned_put_used_as_signed_is_taken(in_alpha, front):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="Offer.pdf", content_type="application/pdf", size=len(PDF)
    )
    assert ticket.url.startswith(front.url)

    assert put(ticket, PDF).status_code == 200
    document = services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    assert document.size == len(PDF)


def test_an_expired_upload_url_is_refused_and_nothing_is_recorded(in_alpha, front, settings):
    settings.DOCUMENTS_UPLOAD_URL_SECONDS = 1
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="Offer.pdf", content_type="application/pdf", size=len(PDF)
    )
    assert "X-Amz-Expires=1&" in ticket.url
    front.advance(seconds=2)

    sent = put(ticket, PDF)

    assert sent.status_code == 403
    assert _error_code(sent) == "AccessDenied"
    assert "Request has expired" in sent.text
    with pytest.raises(ServiceError) as refused:
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    assert (refused.value.field, refused.value.message) == (
        "ticket",
        "The file has not arrived; upload it again.",
    )
    assert _keys(in_alpha.tenant.schema_name) == []
    assert not Document.objects.exists()


def test_an_upload_url_reused_for_another_key_is_refused(in_alpha, front):
    first = services.document_upload_start(
        actor=in_alpha.owner, name="a.pdf", content_type="application/pdf", size=len(PDF)
    )
    second = services.document_upload_start(
        actor=in_alpha.owner, name="b.pdf", content_type="application/pdf", size=len(PDF)
    )
    first_key = first.url.split("?")[0].split(f"/{django_settings.AWS_STORAGE_BUCKET_NAME}/")[1]
    second_key = second.url.split("?")[0].split(f"/{django_settings.AWS_STORAGE_BUCKET_NAME}/")[1]
    assert first_key != second_key
    other_workspace = first_key.replace(in_alpha.tenant.schema_name, "someone_else", 1)

    for key in (second_key, other_workspace):
        reused = requests.put(
            first.url.replace(first_key, key), data=PDF, headers=first.headers, timeout=10
        )
        assert reused.status_code == 403
        assert _error_code(reused) == "SignatureDoesNotMatch"

    assert _keys(in_alpha.tenant.schema_name) == []
    assert s3.workspace_objects(schema_name="someone_else") == []
    for ticket in (first, second):
        with pytest.raises(ServiceError, match="has not arrived"):
            services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    assert not Document.objects.exists()


def test_an_upload_url_with_another_declared_type_is_refused(in_alpha, front):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="Offer.pdf", content_type="application/pdf", size=len(PDF)
    )

    sent = requests.put(ticket.url, data=PDF, headers={"Content-Type": "text/html"}, timeout=10)

    assert sent.status_code == 403
    assert _error_code(sent) == "SignatureDoesNotMatch"
    assert _keys(in_alpha.tenant.schema_name) == []


def test_an_expired_download_url_is_refused(alpha, front, settings):
    # Long enough to fetch once on a busy machine; the front's clock then moves past it.
    settings.DOCUMENTS_DOWNLOAD_URL_SECONDS = 30
    with schema_context(alpha.tenant.schema_name):
        ticket = services.document_upload_start(
            actor=alpha.owner, name="Offer.pdf", content_type="application/pdf", size=len(PDF)
        )
        assert put(ticket, PDF).status_code == 200
        document = services.document_upload_complete(actor=alpha.owner, ticket=ticket.ticket)
    client = workspace_client(alpha.owner.user, alpha.tenant)

    redirect = client.get(f"/documents/{document.pk}/download/")
    assert redirect.status_code == 302
    url = redirect["Location"]
    assert url.startswith(front.url)
    assert "X-Amz-Expires=30&" in url
    assert requests.get(url, timeout=10).content == PDF

    front.advance(seconds=31)
    expired = requests.get(url, timeout=10)

    assert expired.status_code == 403
    assert _error_code(expired) == "AccessDenied"
    assert PDF not in expired.content
    # The page hands out a fresh URL after the permission check again.
    front.skew = datetime.timedelta(0)
    again = client.get(f"/documents/{document.pk}/download/")
    assert requests.get(again["Location"], timeout=10).content == PDF


def test_a_download_url_for_another_key_is_refused(in_alpha, front):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="Offer.pdf", content_type="application/pdf", size=len(PDF)
    )
    assert put(ticket, PDF).status_code == 200
    document = services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    url = services.document_download_url(actor=in_alpha.owner, document=document)
    key = document.versions.get().key

    forged = requests.get(url.replace(key, key[:-1] + "2"), timeout=10)

    assert forged.status_code == 403
    assert _error_code(forged) == "SignatureDoesNotMatch"
