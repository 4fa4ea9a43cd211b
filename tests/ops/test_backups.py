"""Backup and restore of one workspace through pg_dump/psql against real PostgreSQL."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from crm_modules.documents.models import Document, DocumentVersion
from crm_platform import s3
from crm_platform.backups import BackupError, table_checksums, workspace_restore
from tenants import services
from tenants.audit.models import AuditEvent
from tenants.audit.services import audit_record
from tenants.models import Tenant, User
from tests.factories import PASSWORD


def schema_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ws\\_%'")
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def source(committed_spare: Tenant, django_db_blocker: Any) -> Iterator[Tenant]:
    """A committed workspace with data in every script (pg_dump reads committed rows only),
    signed up on a ready spare."""
    with django_db_blocker.unblock():
        result = services.workspace_signup(
            company_name="Backup Source",
            slug="backup-src",
            full_name="Backup Owner",
            email="owner@backup-src.example.com",
            password=PASSWORD,
        )
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        for text in ("Сделка закрыта", "ปิดการขาย", "交易完成", "=cmd|' /C calc'!A0", "a\tb\nc\\."):
            audit_record(
                tenant=result.tenant,
                actor=result.user,
                action="invitation.created",
                target_repr=text,
                data={"note": text},
            )
        before = set(Tenant.objects.values_list("pk", flat=True))
        yield result.tenant
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        for tenant in Tenant.objects.exclude(pk__in=before - {result.tenant.pk}):
            tenant.delete(force_drop=True)
        User.objects.filter(email="owner@backup-src.example.com").delete()


def export(tenant: Tenant, tmp_path: Path) -> Path:
    archive = tmp_path / "backup.tar.gz"
    call_command("workspace_export", tenant.slug, "--output", str(archive))
    return archive


def test_round_trip_into_a_new_workspace_keeps_every_row(source, tmp_path):
    archive = export(source, tmp_path)
    original = table_checksums(source.schema_name)

    call_command("workspace_restore", str(archive), "--slug", "backup-copy")

    copy = Tenant.objects.get(slug="backup-copy")
    assert copy.schema_name != source.schema_name
    assert copy.state == Tenant.State.ACTIVE
    assert copy.name == "Backup Source"
    assert table_checksums(copy.schema_name) == original
    assert original["audit_auditevent"]["rows"] >= 6
    assert list(copy.domains.values_list("domain", flat=True)) == ["backup-copy.localhost"]
    assert list(copy.memberships.values_list("user__email", "role")) == [
        ("owner@backup-src.example.com", "owner")
    ]
    with schema_context(copy.schema_name):
        assert AuditEvent.objects.filter(target_repr="ปิดการขาย").count() == 1
        assert AuditEvent.objects.get(target_repr="a\tb\nc\\.").data == {"note": "a\tb\nc\\."}
    # The copy is independent of the source.
    with schema_context(copy.schema_name):
        AuditEvent.objects.all().delete()
    assert table_checksums(source.schema_name) == original


def test_restore_over_the_same_workspace_brings_back_the_archived_data(source, tmp_path):
    archive = export(source, tmp_path)
    archived = table_checksums(source.schema_name)
    with schema_context(source.schema_name):
        AuditEvent.objects.filter(target_repr="交易完成").delete()
    assert table_checksums(source.schema_name) != archived
    schemas_before = schema_names()

    workspace_restore(archive=archive, replace=True)

    source.refresh_from_db()
    assert table_checksums(source.schema_name) == archived
    assert schema_names() == schemas_before
    assert Tenant.objects.filter(slug="backup-src").count() == 1


def test_restore_refuses_an_address_that_exists(source, tmp_path):
    archive = export(source, tmp_path)
    before = (schema_names(), Tenant.objects.count())
    with pytest.raises(CommandError, match=r"already exists\. Pass --replace"):
        call_command("workspace_restore", str(archive))
    assert (schema_names(), Tenant.objects.count()) == before


def test_a_truncated_archive_is_refused_and_changes_nothing(source, tmp_path):
    archive = export(source, tmp_path)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    before = (schema_names(), Tenant.objects.count())
    with pytest.raises(BackupError, match="truncated or damaged"):
        workspace_restore(archive=truncated, slug="backup-trunc")
    assert (schema_names(), Tenant.objects.count()) == before


def test_an_archive_from_a_newer_version_is_refused(source, tmp_path):
    archive = export(source, tmp_path)
    newer = tmp_path / "newer.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(newer, "w:gz") as dst:
        for member in src.getmembers():
            content = src.extractfile(member)
            assert content is not None
            data = content.read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["migrations"].append(["audit", "9999_from_the_future"])
                data = json.dumps(manifest).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    before = (schema_names(), Tenant.objects.count())
    with pytest.raises(BackupError, match=r"newer version of Rapport.*audit.9999_from_the_future"):
        workspace_restore(archive=newer, slug="backup-newer")
    assert (schema_names(), Tenant.objects.count()) == before


def test_a_failure_after_loading_leaves_no_schema_behind(source, tmp_path):
    archive = export(source, tmp_path)
    before = (schema_names(), Tenant.objects.count())
    # A slug that passes the archive checks but collides at the platform rows: the domain of a
    # workspace is unique, so a stale domain row makes the final transaction fail.
    stale = Tenant.objects.get(slug="backup-src").domains.get()
    stale.domain = "backup-clash.localhost"
    stale.save()
    try:
        with pytest.raises(Exception, match="domain"):
            workspace_restore(archive=archive, slug="backup-clash")
        assert (schema_names(), Tenant.objects.count()) == before
    finally:
        stale.domain = "backup-src.localhost"
        stale.save()


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def _bucket_keys() -> set[str]:
    client = s3.s3_client()
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME
    )
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _with_files(tenant: Tenant) -> dict[str, tuple[bytes, str]]:
    """Committed documents (two versions, a restored one sharing the first's object, a
    thumbnail) and a logo, with their objects in the bucket: key → (bytes, type)."""
    schema = tenant.schema_name
    document_uuid = str(uuid.uuid4())
    first = s3.document_key(schema_name=schema, document_uuid=document_uuid, version=1)
    second = s3.document_key(schema_name=schema, document_uuid=document_uuid, version=2)
    thumbnail = s3.thumbnail_key(schema_name=schema, document_uuid=document_uuid, version=1)
    logo = s3.logo_key(schema_name=schema, logo_uuid=str(uuid.uuid4()), content_type="image/png")
    files = {
        first: (b"%PDF-1.4 first", "application/pdf"),
        second: (b"%PDF-1.4 second version", "application/pdf"),
        thumbnail: (PNG, "image/png"),
        logo: (PNG + b"logo", "image/png"),
    }
    for key, (body, content_type) in files.items():
        s3.object_put(schema_name=schema, key=key, data=body, content_type=content_type)
    with schema_context(schema):
        document = Document.objects.create(
            uuid=document_uuid,
            name="Договор 合同.pdf",
            content_type="application/pdf",
            size=14,
            current_version=3,
            version_counter=3,
        )
        for number, key, thumb, restored_from in (
            (1, first, thumbnail, None),
            (2, second, "", None),
            (3, first, "", 1),
        ):
            DocumentVersion.objects.create(
                document=document,
                number=number,
                key=key,
                size=len(files[key][0]),
                content_type="application/pdf",
                thumbnail_key=thumb,
                restored_from=restored_from,
            )
    Tenant.objects.filter(pk=tenant.pk).update(logo_key=logo)
    return files


def _moved(key: str, source: Tenant, copy: Tenant) -> str:
    return key.replace(f"workspaces/{source.schema_name}/", f"workspaces/{copy.schema_name}/")


def test_a_restore_under_a_new_address_brings_the_files_under_its_own_prefix(
    source, s3_bucket, tmp_path
):
    files = _with_files(source)
    first, second, thumbnail, logo = files
    archive = export(source, tmp_path)

    result = workspace_restore(archive=archive, slug="backup-files")

    copy = result.tenant
    assert (result.objects_copied, result.missing_objects) == (4, [])
    with schema_context(copy.schema_name):
        keys = list(DocumentVersion.objects.order_by("number").values_list("key", "thumbnail_key"))
    assert keys == [
        (_moved(first, source, copy), _moved(thumbnail, source, copy)),
        (_moved(second, source, copy), ""),
        (_moved(first, source, copy), ""),
    ]
    assert copy.logo_key == _moved(logo, source, copy)
    # Each object answers under the new workspace's prefix, with its bytes and its type.
    for key, (body, content_type) in files.items():
        moved = _moved(key, source, copy)
        url = s3.presign_get(
            schema_name=copy.schema_name,
            key=moved,
            content_type=content_type,
            content_disposition="attachment",
            expires_in=60,
        )
        answer = requests.get(url, timeout=10)
        assert (answer.status_code, answer.content) == (200, body)
        head = s3.object_head(schema_name=copy.schema_name, key=moved)
        assert head is not None
        assert head["content_type"] == content_type
    # The source keeps its own objects; nothing of the copy names them.
    assert set(files) <= _bucket_keys()
    with schema_context(copy.schema_name):
        assert not DocumentVersion.objects.filter(
            key__startswith=f"workspaces/{source.schema_name}/"
        ).exists()
    # Copying again, as a resumed restore would, finds everything in place.
    again = s3.workspace_objects_copy(
        source_schema=source.schema_name, target_schema=copy.schema_name, keys=list(files)
    )
    assert (again.copied, again.missing) == ([], [])
    assert sorted(again.present) == sorted(_moved(key, source, copy) for key in files)


def test_a_restore_reports_files_the_bucket_no_longer_holds(source, s3_bucket, tmp_path):
    files = _with_files(source)
    _first, second, _thumbnail, _logo = files
    archive = export(source, tmp_path)
    s3.objects_delete(schema_name=source.schema_name, keys=[second])

    result = workspace_restore(archive=archive, slug="backup-gone")

    assert (result.objects_copied, result.missing_objects) == (3, [second])
    with schema_context(result.tenant.schema_name):
        # The row points at its place in the new workspace, never back at the old prefix.
        assert DocumentVersion.objects.get(number=2).key == _moved(second, source, result.tenant)


def test_a_restore_that_fails_removes_the_files_it_copied(source, s3_bucket, tmp_path):
    _with_files(source)
    archive = export(source, tmp_path)
    keys_before = _bucket_keys()
    before = (schema_names(), Tenant.objects.count())
    stale = Tenant.objects.get(slug="backup-src").domains.get()
    stale.domain = "backup-clash.localhost"
    stale.save()
    try:
        with pytest.raises(Exception, match="domain"):
            workspace_restore(archive=archive, slug="backup-clash")
        assert (schema_names(), Tenant.objects.count()) == before
        assert _bucket_keys() == keys_before
    finally:
        stale.domain = "backup-src.localhost"
        stale.save()


def test_a_restore_over_the_same_workspace_keeps_its_keys(source, s3_bucket, tmp_path):
    files = _with_files(source)
    archive = export(source, tmp_path)
    keys_before = _bucket_keys()

    result = workspace_restore(archive=archive, replace=True)

    assert (result.objects_copied, result.missing_objects) == (0, [])
    with schema_context(source.schema_name):
        assert set(DocumentVersion.objects.values_list("key", flat=True)) <= set(files)
    assert _bucket_keys() == keys_before


def _logo_now(tenant: Tenant) -> str:
    """Replace the workspace's logo with a new one, its object in the bucket, as the logo page
    does; answers its key."""
    key = s3.logo_key(
        schema_name=tenant.schema_name, logo_uuid=str(uuid.uuid4()), content_type="image/png"
    )
    s3.object_put(
        schema_name=tenant.schema_name, key=key, data=PNG + b"now", content_type="image/png"
    )
    Tenant.objects.filter(pk=tenant.pk).update(logo_key=key)
    return key


def test_a_restore_over_the_workspace_brings_back_the_archives_logo(source, s3_bucket, tmp_path):
    files = _with_files(source)
    archived_logo = next(key for key in files if "/logo/" in key)
    archive = export(source, tmp_path)
    current_logo = _logo_now(source)

    result = workspace_restore(archive=archive, replace=True)

    source.refresh_from_db()
    assert source.logo_key == archived_logo
    assert result.missing_objects == []
    keys = _bucket_keys()
    assert archived_logo in keys
    assert current_logo not in keys  # the replaced logo leaves nothing behind


def test_a_restore_whose_logo_is_gone_keeps_the_current_one_and_says_so(
    source, s3_bucket, tmp_path
):
    files = _with_files(source)
    archived_logo = next(key for key in files if "/logo/" in key)
    archive = export(source, tmp_path)
    current_logo = _logo_now(source)
    s3.objects_delete(schema_name=source.schema_name, keys=[archived_logo])

    result = workspace_restore(archive=archive, replace=True)

    source.refresh_from_db()
    assert source.logo_key == current_logo
    assert result.missing_objects == [archived_logo]
    assert current_logo in _bucket_keys()
