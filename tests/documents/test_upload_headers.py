"""An upload ticket tells the browser every header its presigned PUT signed, or S3 refuses the
upload: with encryption at rest asked for (AWS_S3_SERVER_SIDE_ENCRYPTION), that includes the
encryption headers. The browser sets Host and Content-Length itself; the signed length is what
holds an upload to the size it declared. (The S3 stand-in of the tests does not check
signatures: what a URL signs is read from its X-Amz-SignedHeaders.)"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from crm_modules.documents import logo, services
from crm_modules.documents.services.uploads import UPLOAD_URL_SECONDS
from crm_platform import s3
from crm_platform.errors import ServiceError
from tests.conftest import Workspace
from tests.documents.conftest import put

BODY = b"%PDF-1.4\n" + b"x" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
# What the browser adds to every request itself.
BROWSER_SETS = {"host", "content-length"}


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _signed(url: str) -> set[str]:
    return set(_query(url)["X-Amz-SignedHeaders"].split(";"))


def _start(actor: Any, body: bytes = BODY) -> services.UploadTicket:
    return services.document_upload_start(
        actor=actor, name="Offer.pdf", content_type="application/pdf", size=len(body)
    )


def _head(key_prefix: str) -> dict[str, Any]:
    from django.conf import settings

    client = s3.s3_client()
    listed = client.list_objects_v2(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Prefix=key_prefix)
    (item,) = listed["Contents"]
    head: dict[str, Any] = client.head_object(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=item["Key"]
    )
    return head


def test_without_encryption_the_ticket_sends_the_signed_type(
    in_alpha: Workspace, s3_bucket: str
) -> None:
    ticket = _start(in_alpha.owner)

    assert ticket.headers == {"Content-Type": "application/pdf"}
    assert _signed(ticket.url) == {"content-type", *BROWSER_SETS}
    assert _query(ticket.url)["X-Amz-Expires"] == str(UPLOAD_URL_SECONDS) == "900"


@pytest.mark.parametrize("encryption", ["AES256", "aws:kms"])
def test_with_encryption_the_ticket_carries_every_signed_header_and_s3_takes_the_put(
    in_alpha: Workspace, s3_bucket: str, settings: Any, encryption: str
) -> None:
    settings.AWS_S3_SERVER_SIDE_ENCRYPTION = encryption
    settings.AWS_S3_SSE_KMS_KEY_ID = "alias/rapport-documents" if encryption == "aws:kms" else ""
    ticket = _start(in_alpha.owner)

    assert {name.lower() for name in ticket.headers} | BROWSER_SETS == _signed(ticket.url)
    assert ticket.headers["x-amz-server-side-encryption"] == encryption
    if encryption == "aws:kms":
        assert ticket.headers["x-amz-server-side-encryption-aws-kms-key-id"] == (
            "alias/rapport-documents"
        )
    # Exactly what the browser sends: the ticket's headers, nothing more.
    assert (
        requests.put(ticket.url, data=BODY, headers=ticket.headers, timeout=10).status_code == 200
    )
    document = services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    assert document.size == len(BODY)
    head = _head(s3.workspace_prefix(in_alpha.tenant.schema_name))
    assert head["ServerSideEncryption"] == encryption


def test_the_signed_length_holds_the_upload_to_its_declared_size(
    in_alpha: Workspace, s3_bucket: str
) -> None:
    """S3 refuses a PUT of another length than the signed one; should bytes of another size
    arrive all the same, completing the upload refuses them and deletes the object."""
    ticket = _start(in_alpha.owner)
    assert "content-length" in _signed(ticket.url)
    assert _query(ticket.url)["X-Amz-SignedHeaders"].split(";") == sorted(_signed(ticket.url))

    put(ticket, BODY + b"more")

    with pytest.raises(ServiceError) as refused:
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    assert refused.value.field == "ticket"
    assert s3.workspace_objects(schema_name=in_alpha.tenant.schema_name) == []


def test_the_logo_ticket_carries_every_signed_header(
    in_alpha: Workspace, s3_bucket: str, settings: Any
) -> None:
    settings.AWS_S3_SERVER_SIDE_ENCRYPTION = "AES256"
    ticket = logo.workspace_logo_upload_start(
        actor=in_alpha.owner, content_type="image/png", size=len(PNG)
    )

    assert ticket.headers == {
        "Content-Type": "image/png",
        "x-amz-server-side-encryption": "AES256",
    }
    assert {name.lower() for name in ticket.headers} | BROWSER_SETS == _signed(ticket.url)
    assert _query(ticket.url)["X-Amz-Expires"] == "900"
    sent = requests.put(ticket.url, data=PNG, headers=ticket.headers, timeout=10)
    assert sent.status_code == 200
    logo.workspace_logo_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)


def test_each_part_carries_the_headers_its_url_signed(
    in_alpha: Workspace, s3_bucket: str, settings: Any
) -> None:
    """Encryption is asked for when an upload in parts starts; a part signs its length only."""
    settings.AWS_S3_SERVER_SIDE_ENCRYPTION = "AES256"
    settings.DOCUMENTS_MULTIPART_THRESHOLD_BYTES = 100
    settings.DOCUMENTS_MULTIPART_PART_BYTES = 5 * 1024**2
    ticket = _start(in_alpha.owner)

    (part,) = ticket.parts
    assert part["headers"] == {}
    assert {name.lower() for name in part["headers"]} | BROWSER_SETS == _signed(part["url"])
    assert _query(part["url"])["X-Amz-Expires"] == str(UPLOAD_URL_SECONDS)
    sent = requests.put(part["url"], data=BODY, headers=part["headers"], timeout=10)
    assert sent.status_code == 200
    services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    head = _head(s3.workspace_prefix(in_alpha.tenant.schema_name))
    assert head["ServerSideEncryption"] == "AES256"
