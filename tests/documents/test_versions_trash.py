from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from crm_modules.documents import selectors, services, tasks
from crm_modules.documents.models import Document, DocumentVersion
from crm_platform import s3
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.documents.conftest import put, upload


def _new_version(actor, document, body: bytes, content_type: str = "text/plain") -> Document:
    ticket = services.document_upload_start(
        actor=actor,
        name=document.name,
        content_type=content_type,
        size=len(body),
        document=document,
    )
    assert put(ticket, body).status_code == 200
    return services.document_upload_complete(actor=actor, ticket=ticket.ticket)


def _current_bytes(actor, document) -> bytes:
    document.refresh_from_db()
    url = services.document_download_url(actor=actor, document=document)
    return requests.get(url, timeout=10).content


def test_a_new_version_keeps_the_history(in_alpha, s3_bucket):
    owner = in_alpha.owner
    document = upload(owner, b"first")
    document = _new_version(owner, document, b"second!")

    assert document.current_version == 2
    assert document.size == 7
    assert list(document.versions.order_by("number").values_list("number", "size")) == [
        (1, 5),
        (2, 7),
    ]
    assert _current_bytes(owner, document) == b"second!"
    assert AuditEvent.objects.filter(action="document.version_added").count() == 1


def test_an_older_version_is_restored_as_a_new_version(in_alpha, s3_bucket):
    owner = in_alpha.owner
    document = _new_version(owner, upload(owner, b"first"), b"second!")

    restored = services.document_version_restore(actor=owner, document=document, number=1)

    assert (restored.number, restored.restored_from, restored.size) == (3, 1, 5)
    document.refresh_from_db()
    assert (document.current_version, document.size) == (3, 5)
    assert _current_bytes(owner, document) == b"first"
    assert document.versions.count() == 3
    with pytest.raises(ServiceError, match="already the current one"):
        services.document_version_restore(actor=owner, document=document, number=3)
    with pytest.raises(ServiceError, match="does not exist"):
        services.document_version_restore(actor=owner, document=document, number=9)
    assert document.versions.count() == 3


def test_delete_moves_to_the_trash_and_an_admin_restores(in_alpha, s3_bucket):
    rep = in_alpha.members[Role.SALES_REP]
    document = upload(rep, b"contract")
    services.document_delete(actor=rep, document=document)
    assert list(selectors.document_list(actor=rep)) == []

    with pytest.raises(PermissionDenied):
        services.document_restore(actor=rep, document=document)
    document.refresh_from_db()
    assert document.deleted_at is not None

    services.document_restore(actor=in_alpha.members[Role.ADMIN], document=document)
    assert list(selectors.document_list(actor=rep)) == [document]
    assert list(
        AuditEvent.objects.filter(action__startswith="document.")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["document.uploaded", "document.deleted", "document.restored"]


def test_a_document_in_the_trash_takes_no_new_version(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, b"contract")
    services.document_delete(actor=in_alpha.owner, document=document)
    with pytest.raises(ServiceError, match="in the trash"):
        services.document_upload_start(
            actor=in_alpha.owner,
            name="x.pdf",
            content_type="application/pdf",
            size=3,
            document=document,
        )


def test_the_purge_task_removes_expired_trash_and_its_objects(in_alpha, s3_bucket):
    owner = in_alpha.owner
    schema = in_alpha.tenant.schema_name
    expired = _new_version(owner, upload(owner, b"old one"), b"old two")
    recent = upload(owner, b"recent")
    kept = upload(owner, b"kept")
    services.document_delete(actor=owner, document=expired)
    services.document_delete(actor=owner, document=recent)
    Document.objects.filter(pk=expired.pk).update(
        deleted_at=timezone.now() - timedelta(days=30, minutes=1)
    )
    Document.objects.filter(pk=recent.pk).update(
        deleted_at=timezone.now() - timedelta(days=29, hours=23)
    )

    assert tasks.purge_document_trash.delay().get() == 1

    assert set(Document.objects.values_list("pk", flat=True)) == {recent.pk, kept.pk}
    assert not DocumentVersion.objects.filter(document_id=expired.pk).exists()
    remaining = sorted(item["key"] for item in s3.workspace_objects(schema_name=schema))
    assert remaining == sorted(
        DocumentVersion.objects.filter(document_id__in=[recent.pk, kept.pk]).values_list(
            "key", flat=True
        )
    )
