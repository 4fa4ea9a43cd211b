"""The beat task that sweeps abandoned uploads: objects no committed row took (single-request
documents, new versions, logos) and uploads in parts left open go once they are older than the
tickets live; committed documents, restored versions, thumbnails, the current logo, fresh
uploads and other workspaces' objects stay — against the moto S3 server."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.documents import logo, services, tasks
from crm_modules.documents.sweeper import abandoned_before, abandoned_uploads_sweep
from crm_platform import s3
from tenants.models import Tenant
from tests.documents.conftest import put, upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
LATER = timedelta(hours=25)


def _keys(schema_name: str) -> list[str]:
    return sorted(item["key"] for item in s3.workspace_objects(schema_name=schema_name))


def _put(key: str, body: bytes = b"x") -> str:
    s3.s3_client().put_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key, Body=body)
    return key


def _open_uploads() -> list[str]:
    listed = s3.s3_client().list_multipart_uploads(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    return [u["Key"] for u in listed.get("Uploads", [])]


def test_the_task_runs_from_beat_on_the_bulk_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-abandoned-uploads"]
    assert entry == {
        "task": "crm_modules.documents.tasks.sweep_abandoned_uploads",
        "schedule": 6 * 60 * 60.0,
    }
    route = settings.CELERY_TASK_ROUTES["crm_modules.documents.tasks.sweep_abandoned_uploads"]
    assert route == {"queue": "bulk"}


def test_an_upload_is_abandoned_only_after_its_ticket_can_no_longer_complete(settings):
    now = timezone.now()
    settings.DOCUMENTS_ABANDONED_UPLOAD_HOURS = 24
    assert abandoned_before(now) == now - timedelta(hours=24)
    settings.DOCUMENTS_ABANDONED_UPLOAD_HOURS = 0
    assert abandoned_before(now) == now - timedelta(
        hours=services.TICKET_MAX_AGE_SECONDS / 3600 + 1
    )


def test_only_what_no_row_took_is_swept(in_alpha, s3_bucket, django_capture_on_commit_callbacks):
    owner = in_alpha.owner
    schema = in_alpha.tenant.schema_name
    kept_document = upload(owner, b"signed contract")
    second = services.document_upload_start(
        actor=owner, name="v2.txt", content_type="text/plain", size=2, document=kept_document
    )
    assert put(second, b"v2").status_code == 200
    services.document_upload_complete(actor=owner, ticket=second.ticket)
    restored = services.document_version_restore(actor=owner, document=kept_document, number=1)
    fourth = services.document_upload_start(
        actor=owner, name="v4.txt", content_type="text/plain", size=2, document=kept_document
    )
    assert put(fourth, b"v4").status_code == 200  # never completed
    thumbnail = _put(
        s3.thumbnail_key(schema_name=schema, document_uuid=str(kept_document.uuid), version=1)
    )
    never_completed = _put(
        s3.document_key(schema_name=schema, document_uuid=str(uuid.uuid4()), version=1)
    )
    current = logo.workspace_logo_upload_start(actor=owner, content_type="image/png", size=len(PNG))
    assert put(current, PNG).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        logo_key = logo.workspace_logo_upload_complete(actor=owner, ticket=current.ticket)
    abandoned_logo = logo.workspace_logo_upload_start(
        actor=owner, content_type="image/png", size=len(PNG)
    )
    assert put(abandoned_logo, PNG).status_code == 200
    other_data = _put(f"{s3.workspace_prefix(schema)}exports/{uuid.uuid4()}/contacts.csv")
    committed = [v.key for v in kept_document.versions.all()]
    before = _keys(schema)
    assert len(before) == 8

    # Fresh: nothing is old enough yet.
    result = abandoned_uploads_sweep(schema_name=schema)
    assert (result.objects, result.uploads) == (0, 0)
    assert _keys(schema) == before

    # Opened after the first sweep: moto reports every upload in parts as started in 2010, so
    # only the sweep that runs "a day later" may see it.
    open_key = s3.document_key(schema_name=schema, document_uuid=str(uuid.uuid4()), version=1)
    s3.multipart_create(schema_name=schema, key=open_key, content_type="application/pdf")
    result = abandoned_uploads_sweep(schema_name=schema, now=timezone.now() + LATER)
    assert (result.objects, result.uploads) == (3, 1)
    assert _keys(schema) == sorted({*committed, thumbnail, logo_key, other_data})
    assert never_completed not in _keys(schema)
    assert _open_uploads() == []
    # The restored version reads version 1's object, which stays.
    assert restored.key == s3.document_key(
        schema_name=schema, document_uuid=str(kept_document.uuid), version=1
    )
    assert Tenant.objects.get(pk=in_alpha.tenant.pk).logo_key == logo_key
    # A second run finds nothing more to do.
    again = abandoned_uploads_sweep(schema_name=schema, now=timezone.now() + LATER)
    assert (again.objects, again.uploads) == (0, 0)


def test_each_workspace_is_swept_on_its_own(alpha, bravo, s3_bucket, monkeypatch):
    keys = {}
    for workspace in (alpha, bravo):
        schema = workspace.tenant.schema_name
        with schema_context(schema):
            kept = upload(workspace.owner, b"kept").versions.get().key
        keys[schema] = (
            kept,
            _put(s3.document_key(schema_name=schema, document_uuid=str(uuid.uuid4()), version=1)),
        )
    later = timezone.now() + LATER
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert tasks.sweep_abandoned_uploads() == 2

    for schema, (kept, abandoned) in keys.items():
        assert _keys(schema) == [kept], schema
        assert abandoned not in _keys(schema)


@pytest.mark.parametrize("folder", ["", "../documents", "documents/x"])
def test_the_sweep_lists_only_a_folder_of_one_workspace(folder):
    with pytest.raises(s3.KeyOutsideWorkspace):
        list(s3.workspace_objects_before(schema_name="alpha", folder=folder, before=timezone.now()))
