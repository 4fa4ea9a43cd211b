"""The beat task that empties the trash: every workspace on its own, every version's object
(abandoned uploads included), idempotent — against the moto S3 server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.documents import services, tasks
from crm_modules.documents.models import Document, DocumentLink, DocumentVersion
from crm_platform import s3
from crm_platform.errors import ServiceError
from tests.documents.conftest import put, upload


def _keys(schema_name: str) -> list[str]:
    return sorted(item["key"] for item in s3.workspace_objects(schema_name=schema_name))


def _expire(document: Document, *, days: int, minutes: int = 0) -> None:
    Document.objects.filter(pk=document.pk).update(
        deleted_at=timezone.now() - timedelta(days=days, minutes=minutes)
    )


def test_the_task_runs_every_six_hours_from_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-document-trash"]
    assert entry == {
        "task": "crm_modules.documents.tasks.purge_document_trash",
        "schedule": 6 * 60 * 60.0,
    }


def test_each_workspace_loses_only_its_own_expired_documents(alpha, bravo, s3_bucket):
    with schema_context(alpha.tenant.schema_name):
        alpha_expired = upload(alpha.owner, b"alpha old")
        alpha_kept = upload(alpha.owner, b"alpha kept")
        services.document_delete(actor=alpha.owner, document=alpha_expired)
        _expire(alpha_expired, days=31)
        alpha_kept_keys = [v.key for v in alpha_kept.versions.all()]
    with schema_context(bravo.tenant.schema_name):
        bravo_expired = upload(bravo.owner, b"bravo old")
        bravo_recent = upload(bravo.owner, b"bravo recent")
        for document in (bravo_expired, bravo_recent):
            services.document_delete(actor=bravo.owner, document=document)
        _expire(bravo_expired, days=30, minutes=1)
        _expire(bravo_recent, days=29)
        bravo_recent_keys = [v.key for v in bravo_recent.versions.all()]

    assert tasks.purge_document_trash.delay().get() == 2

    assert _keys(alpha.tenant.schema_name) == alpha_kept_keys
    assert _keys(bravo.tenant.schema_name) == bravo_recent_keys
    with schema_context(alpha.tenant.schema_name):
        assert list(Document.objects.values_list("pk", flat=True)) == [alpha_kept.pk]
    with schema_context(bravo.tenant.schema_name):
        assert list(Document.objects.values_list("pk", flat=True)) == [bravo_recent.pk]
        assert DocumentVersion.objects.filter(document_id=bravo_expired.pk).count() == 0


def test_every_version_goes_and_a_second_run_finds_nothing(in_alpha, s3_bucket, notes_attachable):
    from tests.kit_module.models import Note

    owner = in_alpha.owner
    schema = in_alpha.tenant.schema_name
    note = Note.objects.create(title="Deal", owner=owner.user)
    document = upload(owner, b"one", record_type=notes_attachable, record_id=note.pk)
    second = services.document_upload_start(
        actor=owner, name="x.txt", content_type="text/plain", size=3, document=document
    )
    assert put(second, b"two").status_code == 200
    services.document_upload_complete(actor=owner, ticket=second.ticket)
    services.document_version_restore(actor=owner, document=document, number=1)
    # A version whose bytes arrived but whose upload was never completed.
    abandoned = services.document_upload_start(
        actor=owner, name="x.txt", content_type="text/plain", size=5, document=document
    )
    assert put(abandoned, b"three").status_code == 200
    assert len(_keys(schema)) == 3
    services.document_delete(actor=owner, document=document)
    _expire(document, days=45)

    assert services.documents_purge_expired(schema_name=schema) == 1
    assert _keys(schema) == []
    assert not Document.objects.exists()
    assert not DocumentVersion.objects.exists()
    assert not DocumentLink.objects.exists()

    assert tasks.purge_document_trash.delay().get() == 0
    assert services.documents_purge_expired(schema_name=schema) == 0
    assert _keys(schema) == []


def test_a_document_not_yet_expired_is_untouched(in_alpha, s3_bucket):
    owner = in_alpha.owner
    document = upload(owner, b"recent")
    services.document_delete(actor=owner, document=document)
    _expire(document, days=29, minutes=59 * 24)
    keys = _keys(in_alpha.tenant.schema_name)

    assert services.documents_purge_expired(schema_name=in_alpha.tenant.schema_name) == 0
    assert _keys(in_alpha.tenant.schema_name) == keys == [document.versions.get().key]
    assert Document.objects.filter(pk=document.pk).exists()


def test_restoring_a_purged_document_is_refused_clearly(in_alpha, s3_bucket):
    owner = in_alpha.owner
    document = upload(owner, b"gone")
    services.document_delete(actor=owner, document=document)
    _expire(document, days=31)
    services.documents_purge_expired(schema_name=in_alpha.tenant.schema_name)

    with pytest.raises(ServiceError, match="deleted for good"):
        services.document_restore(actor=owner, document=document)
    assert not Document.objects.exists()
