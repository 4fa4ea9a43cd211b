"""Large files go to S3 in parts, each through its own presigned PUT; after a dropped
connection the server lists what S3 holds and presigns only the missing parts; completion
joins the parts from what S3 lists, never from what the browser says."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings

from crm_modules.documents import services
from crm_modules.documents.models import Document, DocumentVersion
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants.roles import Role
from tests.conftest import workspace_client

MIB = 1024**2
BODY = b"%PDF-1.4\n" + bytes(range(256)) * (11 * MIB // 256)


@pytest.fixture
def in_parts(settings):
    settings.DOCUMENTS_MULTIPART_THRESHOLD_BYTES = 6 * MIB
    settings.DOCUMENTS_MULTIPART_PART_BYTES = 5 * MIB


def _start(actor, body: bytes = BODY) -> services.UploadTicket:
    return services.document_upload_start(
        actor=actor, name="Scan.pdf", content_type="application/pdf", size=len(body)
    )


def _send(part: dict[str, Any], body: bytes, part_size: int = 5 * MIB) -> None:
    start = (part["number"] - 1) * part_size
    chunk = body[start : start + part["size"]]
    assert requests.put(part["url"], data=chunk, timeout=30).status_code == 200


def _open_uploads() -> list[str]:
    listed = s3.s3_client().list_multipart_uploads(Bucket=django_settings.AWS_STORAGE_BUCKET_NAME)
    return [u["Key"] for u in listed.get("Uploads", [])]


def test_a_large_file_goes_in_parts_and_resumes_after_a_dropped_connection(
    in_alpha, s3_bucket, in_parts
):
    rep = in_alpha.members[Role.SALES_REP]
    ticket = _start(rep)
    assert ticket.url == ""
    assert ticket.part_size == 5 * MIB
    assert [(p["number"], p["size"]) for p in ticket.parts] == [
        (1, 5 * MIB),
        (2, 5 * MIB),
        (3, len(BODY) - 10 * MIB),
    ]
    assert all("partNumber=" in p["url"] and "uploadId=" in p["url"] for p in ticket.parts)
    # Parts 1 and 3 arrive, then the connection drops.
    _send(ticket.parts[0], BODY)
    _send(ticket.parts[2], BODY)

    with pytest.raises(ServiceError, match=r"^1 of 3 parts have not arrived; resume the upload\.$"):
        services.document_upload_complete(actor=rep, ticket=ticket.ticket)
    assert not Document.objects.exists()

    resumed = services.document_upload_resume(actor=rep, ticket=ticket.ticket)
    assert [(p["number"], p["size"]) for p in resumed.parts] == [(2, 5 * MIB)]
    _send(resumed.parts[0], BODY)
    document = services.document_upload_complete(actor=rep, ticket=ticket.ticket)

    assert (document.size, document.content_type) == (len(BODY), "application/pdf")
    version = document.versions.get()
    assert version.sniffed_type == "application/pdf"
    fetched = requests.get(
        services.document_download_url(actor=rep, document=document), timeout=30
    ).content
    assert hashlib.sha256(fetched).hexdigest() == hashlib.sha256(BODY).hexdigest()
    assert _open_uploads() == []

    with pytest.raises(ServiceError, match="already complete"):
        services.document_upload_complete(actor=rep, ticket=ticket.ticket)
    assert DocumentVersion.objects.count() == 1


def test_a_small_file_goes_in_one_request(in_alpha, s3_bucket, in_parts):
    ticket = _start(in_alpha.owner, b"%PDF-1.4\n")
    assert ticket.parts == []
    assert ticket.part_size == 0
    assert ticket.url.startswith(str(django_settings.AWS_S3_ENDPOINT_URL))


def test_a_cancelled_upload_leaves_nothing(in_alpha, s3_bucket, in_parts):
    owner = in_alpha.owner
    ticket = _start(owner)
    _send(ticket.parts[0], BODY)
    assert len(_open_uploads()) == 1

    services.document_upload_abort(actor=owner, ticket=ticket.ticket)

    assert _open_uploads() == []
    with pytest.raises(ServiceError, match="cancelled or is already complete"):
        services.document_upload_resume(actor=owner, ticket=ticket.ticket)
    with pytest.raises(ServiceError, match="has not arrived"):
        services.document_upload_complete(actor=owner, ticket=ticket.ticket)
    assert s3.workspace_objects(schema_name=in_alpha.tenant.schema_name) == []
    assert not Document.objects.exists()
    # Cancelling again is harmless.
    services.document_upload_abort(actor=owner, ticket=ticket.ticket)


def test_a_part_of_the_wrong_size_is_sent_again_or_refused(in_alpha, s3_bucket, in_parts):
    owner = in_alpha.owner
    ticket = _start(owner)
    _send(ticket.parts[0], BODY)
    _send(ticket.parts[1], BODY)
    # The last part arrives short (S3 would refuse the signed length; moto does not check).
    short = ticket.parts[2]
    assert requests.put(short["url"], data=b"x" * 10, timeout=30).status_code == 200

    resumed = services.document_upload_resume(actor=owner, ticket=ticket.ticket)
    assert [p["number"] for p in resumed.parts] == [3]

    with pytest.raises(ServiceError, match="differs from the file declared"):
        services.document_upload_complete(actor=owner, ticket=ticket.ticket)
    assert _open_uploads() == []
    assert s3.workspace_objects(schema_name=in_alpha.tenant.schema_name) == []
    assert not Document.objects.exists()


def test_only_the_member_who_started_may_resume_or_cancel(in_alpha, s3_bucket, in_parts):
    ticket = _start(in_alpha.owner)
    admin = in_alpha.members[Role.ADMIN]
    with pytest.raises(ServiceError, match="expired or is not valid"):
        services.document_upload_resume(actor=admin, ticket=ticket.ticket)
    with pytest.raises(ServiceError, match="expired or is not valid"):
        services.document_upload_abort(actor=admin, ticket=ticket.ticket)
    assert len(_open_uploads()) == 1


def test_a_single_request_ticket_cannot_be_resumed(in_alpha, s3_bucket, in_parts):
    ticket = _start(in_alpha.owner, b"%PDF-1.4\n")
    with pytest.raises(ServiceError, match="not sent in parts"):
        services.document_upload_resume(actor=in_alpha.owner, ticket=ticket.ticket)


def test_the_pages_answer_parts_and_resume(alpha, s3_bucket, in_parts):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    started = client.post(
        "/documents/uploads/",
        {"name": "Scan.pdf", "content_type": "application/pdf", "size": len(BODY)},
    ).json()
    assert set(started) == {"ticket", "part_size", "parts"}
    assert [p["number"] for p in started["parts"]] == [1, 2, 3]
    _send(started["parts"][0], BODY)

    resumed = client.post("/documents/uploads/resume/", {"ticket": started["ticket"]}).json()
    assert [p["number"] for p in resumed["parts"]] == [2, 3]
    assert resumed["ticket"] == started["ticket"]

    aborted = client.post("/documents/uploads/abort/", {"ticket": started["ticket"]})
    assert aborted.json() == {"aborted": True}
    again = client.post("/documents/uploads/resume/", {"ticket": started["ticket"]})
    assert again.status_code == 400
    assert again.json()["error"]["field"] == "ticket"
    missing = client.post("/documents/uploads/resume/", {})
    assert missing.status_code == 400
    assert missing.json()["error"]["field"] == "ticket"


def test_the_api_resumes_and_cancels_an_upload_in_parts(in_alpha, s3_bucket, in_parts):
    rep = in_alpha.members[Role.SALES_REP]
    client = workspace_client(rep.user, in_alpha.tenant)
    started = client.post(
        "/api/v1/documents/uploads/",
        {"name": "Scan.pdf", "content_type": "application/pdf", "size": len(BODY)},
        content_type="application/json",
    ).json()
    _send(started["parts"][1], BODY)

    resumed = client.post(
        "/api/v1/documents/uploads/resume/",
        {"ticket": started["ticket"]},
        content_type="application/json",
    )
    assert resumed.status_code == 200, resumed.content
    body = resumed.json()
    assert body["received"] == [2]
    assert [(p["number"], p["size"]) for p in body["parts"]] == [
        (1, 5 * MIB),
        (3, len(BODY) - 10 * MIB),
    ]
    assert (body["ticket"], body["part_size"], body["url"]) == (started["ticket"], 5 * MIB, "")

    # Another member cannot cancel it: the ticket names its member.
    other = workspace_client(in_alpha.owner.user, in_alpha.tenant)
    refused = other.post(
        "/api/v1/documents/uploads/abort/",
        {"ticket": started["ticket"]},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert set(refused.json()["error"]["fields"]) == {"ticket"}
    assert len(_open_uploads()) == 1

    cancelled = client.post(
        "/api/v1/documents/uploads/abort/",
        {"ticket": started["ticket"]},
        content_type="application/json",
    )
    assert cancelled.status_code == 204
    assert _open_uploads() == []
    again = client.post(
        "/api/v1/documents/uploads/resume/",
        {"ticket": started["ticket"]},
        content_type="application/json",
    )
    assert again.status_code == 400
    assert "cancelled or is already complete" in again.json()["error"]["message"]
    assert not Document.objects.exists()


def test_the_api_refuses_a_tampered_ticket(in_alpha, s3_bucket, in_parts):
    client = workspace_client(in_alpha.owner.user, in_alpha.tenant)
    for path in ("/api/v1/documents/uploads/resume/", "/api/v1/documents/uploads/abort/"):
        response = client.post(path, {"ticket": "x:y:z"}, content_type="application/json")
        assert response.status_code == 400
        assert set(response.json()["error"]["fields"]) == {"ticket"}
        missing = client.post(path, {}, content_type="application/json")
        assert set(missing.json()["error"]["fields"]) == {"ticket"}
