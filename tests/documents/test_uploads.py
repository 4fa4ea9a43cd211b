from __future__ import annotations

import pytest
import requests
from django.core import signing
from django_tenants.utils import schema_context

from crm_modules.documents import services
from crm_modules.documents.models import Document, DocumentLink, DocumentVersion
from crm_platform import s3
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Plan, Tenant
from tenants.roles import Role
from tests.conftest import beside_audit, workspace_client
from tests.documents.conftest import put
from tests.kit_module.models import Note

PDF = b"%PDF-1.4\n" + b"x" * 2048
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def _objects(schema_name: str) -> list[str]:
    return [item["key"] for item in s3.workspace_objects(schema_name=schema_name)]


def _nothing_recorded() -> None:
    assert Document.objects.count() == 0
    assert DocumentVersion.objects.count() == 0
    assert DocumentLink.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="document.").exists()


def test_a_file_goes_straight_to_s3_and_is_recorded_once_verified(
    in_alpha, s3_bucket, notes_attachable, django_capture_on_commit_callbacks
):
    rep = in_alpha.members[Role.SALES_REP]
    note = Note.objects.create(title="Deal", owner=rep.user)
    ticket = services.document_upload_start(
        actor=rep,
        name="Договор สัญญา 合同.pdf",
        content_type="application/pdf",
        size=len(PDF),
        record_type=notes_attachable,
        record_id=note.pk,
    )
    assert ticket.headers == {"Content-Type": "application/pdf"}
    assert Document.objects.count() == 0  # nothing is recorded before the bytes arrive
    assert put(ticket, PDF).status_code == 200

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        document = services.document_upload_complete(actor=rep, ticket=ticket.ticket)

    assert document.name == "Договор สัญญา 合同.pdf"
    assert (document.content_type, document.size, document.current_version) == (
        "application/pdf",
        len(PDF),
        1,
    )
    assert document.uploaded_by_id == rep.user_id
    version = document.versions.get()
    assert version.key == f"workspaces/{in_alpha.tenant.schema_name}/documents/{document.uuid}/1"
    assert (version.number, version.size) == (1, len(PDF))
    assert len(version.checksum) == 32
    assert list(document.links.values_list("record_type", "record_id")) == [
        (notes_attachable, note.pk)
    ]
    event = AuditEvent.objects.get(action="document.uploaded")
    assert (event.actor_id, event.target_repr) == (rep.user_id, document.name)
    # The PDF thumbnail task and the live event, after commit.
    assert len(beside_audit(callbacks)) == 2
    assert _objects(in_alpha.tenant.schema_name) == [version.key]


def _fill_storage(used: int) -> None:
    """Versions adding up to ``used`` bytes, as if uploaded (no objects needed to count)."""
    document = Document.objects.create(name="big.bin", content_type="text/plain", size=used)
    DocumentVersion.objects.create(
        document=document, number=1, key="k", size=used, content_type="text/plain"
    )


def test_an_upload_over_the_quota_is_refused_before_any_byte_is_sent(in_alpha, s3_bucket):
    # A trial runs on the Professional plan: 100 GB.
    _fill_storage(100 * 1024**3 - 100)
    keys_before = _objects(in_alpha.tenant.schema_name)

    with pytest.raises(ServiceError) as refused:
        services.document_upload_start(
            actor=in_alpha.owner, name="big.pdf", content_type="application/pdf", size=101
        )

    assert refused.value.field == "size"
    assert refused.value.message == (
        "The file is 101\xa0bytes, but only 100\xa0bytes of the workspace's 100.0\xa0GB storage"
        " is left. Delete documents from the trash or ask the owner for a larger plan."
    )
    assert Document.objects.count() == 1
    assert _objects(in_alpha.tenant.schema_name) == keys_before
    # What fits exactly is allowed.
    services.document_upload_start(
        actor=in_alpha.owner, name="fits.pdf", content_type="application/pdf", size=100
    )


def test_two_uploads_that_fit_alone_but_not_together_complete_only_once(in_alpha, s3_bucket):
    _fill_storage(100 * 1024**3 - 150)
    schema = in_alpha.tenant.schema_name
    first, second = (
        services.document_upload_start(
            actor=in_alpha.owner, name=name, content_type="text/plain", size=100
        )
        for name in ("first.txt", "second.txt")
    )
    assert put(first, b"a" * 100).status_code == 200
    assert put(second, b"b" * 100).status_code == 200

    document = services.document_upload_complete(actor=in_alpha.owner, ticket=first.ticket)
    with pytest.raises(ServiceError) as refused:
        services.document_upload_complete(actor=in_alpha.owner, ticket=second.ticket)

    assert refused.value.field == "size"
    assert refused.value.message == (
        "The file is 100\xa0bytes, but only 50\xa0bytes of the workspace's 100.0\xa0GB storage"
        " is left. Delete documents from the trash or ask the owner for a larger plan."
    )
    assert sorted(Document.objects.values_list("name", flat=True)) == ["big.bin", "first.txt"]
    assert DocumentVersion.objects.count() == 2
    assert list(
        AuditEvent.objects.filter(action="document.uploaded").values_list("target_repr", flat=True)
    ) == ["first.txt"]
    # The refused upload's bytes are gone; the completed one's stay.
    assert _objects(schema) == [document.versions.get().key]


def test_the_upload_page_answers_the_quota_refusal_naming_the_field(alpha, s3_bucket):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=Plan.STARTER)
    with schema_context(alpha.tenant.schema_name):
        _fill_storage(10 * 1024**3 - 10)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = client.post(
        "/documents/uploads/", {"name": "a.pdf", "content_type": "application/pdf", "size": 11}
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "field": "size",
        "message": "The file is 11\xa0bytes, but only 10\xa0bytes of the workspace's 10.0\xa0GB"
        " storage is left. Delete documents from the trash or ask the owner for a larger plan.",
    }


def test_a_file_over_starters_limit_fits_professionals(in_alpha, s3_bucket):
    """The largest file is the plan's: what Starter refuses, a trial (Professional) takes, in
    parts."""
    started = services.document_upload_start(
        actor=in_alpha.owner, name="film.mp4", content_type="video/mp4", size=100 * 1024**2 + 1
    )
    assert started.parts is not None


@pytest.mark.parametrize(
    ("plan", "size", "field", "message"),
    [
        ("trial", 0, "size", "The file is empty."),
        (
            "starter",
            100 * 1024**2 + 1,
            "size",
            "The file is 100.0\xa0MB; files may be at most 100.0\xa0MB.",
        ),
        # A trial runs on Professional's limits.
        ("trial", 1024**3 + 1, "size", "The file is 1.0\xa0GB; files may be at most 1.0\xa0GB."),
        (
            "enterprise",
            5 * 1024**3 + 1,
            "size",
            "The file is 5.0\xa0GB; files may be at most 5.0\xa0GB.",
        ),
    ],
)
def test_empty_and_oversized_files_are_refused(in_alpha, s3_bucket, plan, size, field, message):
    Tenant.objects.filter(pk=in_alpha.tenant.pk).update(plan=plan)
    # The workspace as the request would load it, on that plan.
    actor = Membership.objects.select_related("tenant", "user").get(pk=in_alpha.owner.pk)
    with pytest.raises(ServiceError) as refused:
        services.document_upload_start(
            actor=actor, name="a.pdf", content_type="application/pdf", size=size
        )
    assert (refused.value.field, refused.value.message) == (field, message)
    _nothing_recorded()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("evil\x00name.pdf", "evil name.pdf"),
        ("invoice\u202efdp.exe", "invoice fdp.exe"),
        ("ใบเสนอราคา.pdf", "ใบเสนอราคา.pdf"),
        ("报价单.pdf", "报价单.pdf"),
        ("<b>bold</b>.pdf", "<b>bold<_b>.pdf"),
        ("a" * 1000 + ".pdf", "a" * 251 + ".pdf"),
    ],
)
def test_names_are_cleaned_but_any_script_is_kept(name, expected):
    assert services.check_name(name) == expected


@pytest.mark.parametrize("name", ["", "   ", "\x00\u202e", "..", "\u200f . "])
def test_a_name_with_nothing_left_is_refused(name):
    with pytest.raises(ServiceError) as refused:
        services.check_name(name)
    assert refused.value.field == "name"


def test_a_read_only_member_cannot_start_an_upload(in_alpha, s3_bucket):
    with pytest.raises(PermissionDenied):
        services.document_upload_start(
            actor=in_alpha.members[Role.READ_ONLY], name="a.pdf", content_type="", size=5
        )


def test_a_record_out_of_reach_cannot_receive_a_document(in_alpha, s3_bucket, notes_attachable):
    others = Note.objects.create(title="Owner's", owner=in_alpha.owner.user)
    with pytest.raises(ServiceError) as refused:
        services.document_upload_start(
            actor=in_alpha.members[Role.SALES_REP],
            name="a.pdf",
            content_type="application/pdf",
            size=5,
            record_type=notes_attachable,
            record_id=others.pk,
        )
    assert refused.value.field == "record_id"


def test_completing_before_the_bytes_arrive_records_nothing(in_alpha, s3_bucket):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="a.pdf", content_type="application/pdf", size=5
    )
    with pytest.raises(ServiceError, match="has not arrived"):
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    _nothing_recorded()


def test_completing_twice_is_refused(in_alpha, s3_bucket):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="a.pdf", content_type="application/pdf", size=len(PDF)
    )
    put(ticket, PDF)
    services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    with pytest.raises(ServiceError, match="already complete"):
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    assert DocumentVersion.objects.count() == 1


def test_a_body_of_another_size_is_refused_by_the_signed_request(in_alpha, s3_bucket):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="a.pdf", content_type="application/pdf", size=5
    )
    # The signature covers Content-Length; moto does not check signatures, so the server
    # verification must catch what S3 would have refused.
    put(ticket, PDF)
    with pytest.raises(ServiceError, match="differs from the file declared"):
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    _nothing_recorded()
    assert _objects(in_alpha.tenant.schema_name) == []


def test_a_body_of_another_type_is_refused_and_removed(in_alpha, s3_bucket):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="a.pdf", content_type="application/pdf", size=len(PDF)
    )
    requests.put(ticket.url, data=PDF, headers={"Content-Type": "text/html"}, timeout=10)
    with pytest.raises(ServiceError, match="differs from the file declared"):
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    _nothing_recorded()
    assert _objects(in_alpha.tenant.schema_name) == []


def test_a_ticket_is_valid_only_for_its_member_and_workspace(in_alpha, s3_bucket):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="a.pdf", content_type="application/pdf", size=len(PDF)
    )
    put(ticket, PDF)
    with pytest.raises(ServiceError, match="expired or is not valid"):
        services.document_upload_complete(actor=in_alpha.members[Role.ADMIN], ticket=ticket.ticket)
    forged = ticket.ticket[:-2] + ("AA" if not ticket.ticket.endswith("AA") else "BB")
    with pytest.raises(ServiceError, match="expired or is not valid"):
        services.document_upload_complete(actor=in_alpha.owner, ticket=forged)
    _nothing_recorded()


def test_an_expired_ticket_is_refused(in_alpha, s3_bucket, monkeypatch):
    ticket = services.document_upload_start(
        actor=in_alpha.owner, name="a.pdf", content_type="application/pdf", size=len(PDF)
    )
    put(ticket, PDF)
    monkeypatch.setattr(services.uploads, "TICKET_MAX_AGE_SECONDS", -1)
    with pytest.raises(ServiceError, match="expired or is not valid"):
        services.document_upload_complete(actor=in_alpha.owner, ticket=ticket.ticket)
    _nothing_recorded()
    assert signing.loads(ticket.ticket, salt="documents.upload")["size"] == len(PDF)


def test_the_browser_flow_through_the_pages(alpha, s3_bucket):
    client = workspace_client(alpha.owner.user, alpha.tenant)
    started = client.post(
        "/documents/uploads/",
        {"name": "scan.png", "content_type": "image/png", "size": len(PNG)},
    )
    assert started.status_code == 200
    body = started.json()
    assert requests.put(body["url"], data=PNG, headers=body["headers"], timeout=10).ok
    completed = client.post("/documents/uploads/complete/", {"ticket": body["ticket"]})
    assert completed.status_code == 201
    assert completed.json() == {"id": completed.json()["id"], "name": "scan.png", "version": 1}
    with schema_context(alpha.tenant.schema_name):
        version = DocumentVersion.objects.get(document_id=completed.json()["id"])
    assert _objects(alpha.tenant.schema_name) == [version.key]
