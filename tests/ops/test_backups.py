"""Backup and restore of one workspace through pg_dump/psql against real PostgreSQL."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
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


# --- copies on a pool of threads, managed copy ------------------------------------------------


def _put(key: str, body: bytes, content_type: str) -> None:
    s3.s3_client().put_object(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME,
        Key=key,
        Body=body,
        ContentType=content_type,
        Metadata={"origin": "upload"},
    )


def test_objects_are_copied_by_several_threads_at_once(s3_bucket):
    """Four copies must be in flight together to get past the barrier; copies made one after
    the other would break it (its timeout only keeps a failure from hanging)."""
    source, target = f"ws_{uuid.uuid4().hex[:12]}", f"ws_{uuid.uuid4().hex[:12]}"
    keys = [f"workspaces/{source}/documents/{number}/1" for number in range(8)]
    for key in keys:
        _put(key, key.encode(), "text/plain")
    barrier = threading.Barrier(4, timeout=30)
    waited = itertools.count()

    def together(**kwargs: Any) -> None:
        if next(waited) < 4:
            barrier.wait()

    session = boto3._get_default_session()
    session.events.register("before-send.s3.CopyObject", together)
    try:
        result = s3.workspace_objects_copy(
            source_schema=source, target_schema=target, keys=keys, workers=4
        )
    finally:
        session.events.unregister("before-send.s3.CopyObject", together)

    assert result.copied == [key.replace(source, target) for key in keys]
    assert (result.present, result.missing) == ([], [])
    for key in keys:
        body = s3.s3_client().get_object(
            Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key.replace(source, target)
        )["Body"]
        assert body.read() == key.encode()


def test_a_copy_that_fails_part_way_removes_what_it_had_copied(s3_bucket):
    source, target = f"ws_{uuid.uuid4().hex[:12]}", f"ws_{uuid.uuid4().hex[:12]}"
    keys = [f"workspaces/{source}/documents/{number}/1" for number in range(6)]
    for key in keys:
        _put(key, key.encode(), "text/plain")
    refused = keys[3].replace(source, target)

    def refuse(params: dict[str, Any], **kwargs: Any) -> None:
        if params.get("Key") == refused:
            raise RuntimeError("S3 refused the copy")

    session = boto3._get_default_session()
    session.events.register("before-parameter-build.s3.CopyObject", refuse)
    try:
        with pytest.raises(RuntimeError, match="S3 refused the copy"):
            s3.workspace_objects_copy(
                source_schema=source, target_schema=target, keys=keys, workers=3
            )
    finally:
        session.events.unregister("before-parameter-build.s3.CopyObject", refuse)

    assert s3.workspace_objects(schema_name=target) == []
    assert len(s3.workspace_objects(schema_name=source)) == len(keys)


def test_a_large_object_is_copied_in_parts_with_its_type_metadata_and_encryption(
    s3_bucket, settings, monkeypatch
):
    """Past the managed copy's threshold the object is copied in parts (UploadPartCopy), as an
    object over CopyObject's 5 GB limit must be; the threshold is lowered to 5 MiB here."""
    settings.AWS_S3_SERVER_SIDE_ENCRYPTION = "AES256"
    monkeypatch.setattr(
        s3,
        "_MANAGED",
        TransferConfig(
            multipart_threshold=5 * 1024**2, multipart_chunksize=5 * 1024**2, use_threads=False
        ),
    )
    source, target = f"ws_{uuid.uuid4().hex[:12]}", f"ws_{uuid.uuid4().hex[:12]}"
    key = f"workspaces/{source}/documents/large/1"
    body = bytes(range(256)) * (6 * 4096)  # 6 MiB
    _put(key, body, "application/pdf")

    result = s3.workspace_objects_copy(source_schema=source, target_schema=target, keys=[key])

    moved = key.replace(source, target)
    assert result.copied == [moved]
    answer = s3.s3_client().get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=moved)
    assert answer["Body"].read() == body
    assert answer["ETag"].strip('"').endswith("-2")  # two parts
    assert answer["ContentType"] == "application/pdf"
    assert answer["Metadata"] == {"origin": "upload"}
    assert answer["ServerSideEncryption"] == "AES256"


# --- a failed restore never loses an object the workspace had ---------------------------------


@pytest.fixture
def versioned_bucket(s3_bucket, settings) -> str:
    """A bucket with versioning on, as the production one (terraform/modules/storage)."""
    settings.AWS_STORAGE_BUCKET_NAME = "rapport-test-versioned"
    client = s3.s3_client()
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    client.put_bucket_versioning(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME, VersioningConfiguration={"Status": "Enabled"}
    )
    return str(settings.AWS_STORAGE_BUCKET_NAME)


def _read(key: str) -> bytes | None:
    try:
        answer = s3.s3_client().get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
    except ClientError:
        return None
    body: bytes = answer["Body"].read()
    return body


def test_a_failed_replace_restore_keeps_the_objects_it_overwrote(
    source, versioned_bucket, tmp_path
):
    files = _with_files(source)
    first, second, _thumbnail, _logo = files
    archive = export(source, tmp_path)
    # A workspace restored from the archive under another schema, whose file at the place of
    # the second version now holds other bytes than the archive's.
    other = workspace_restore(archive=archive, slug="backup-other").tenant
    overwritten = _moved(second, source, other)
    kept = _moved(first, source, other)
    current = b"%PDF-1.4 the workspace's own file, longer than the archived one"
    s3.object_put(
        schema_name=other.schema_name, key=overwritten, data=current, content_type="application/pdf"
    )
    s3.objects_delete(schema_name=other.schema_name, keys=[kept])
    # The swap of schemas fails (the name it retires the current schema under is taken), after
    # the files were copied: the overwritten one included.
    retired = f"{other.schema_name}_old"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{retired}"')
    try:
        with pytest.raises(Exception, match="already exists"):
            workspace_restore(archive=archive, slug="backup-other", replace=True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{retired}"')

    # The object the workspace had before the restore answers as it did; what the restore
    # created where nothing was is gone again.
    assert _read(overwritten) == current
    assert _read(kept) is None


# --- archives with the files -----------------------------------------------------------------


def test_an_archive_with_files_brings_back_a_purged_workspaces_documents(
    source, s3_bucket, tmp_path
):
    files = _with_files(source)
    archive = tmp_path / "with-files.tar.gz"
    call_command("workspace_export", source.slug, "--output", str(archive), "--with-files")
    with tarfile.open(archive) as opened:
        manifest_file = opened.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
        names = set(opened.getnames())
    assert {entry["key"]: entry["size"] for entry in manifest["files"]} == {
        key: len(body) for key, (body, _type) in files.items()
    }
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"])
    assert {f"files/{key}" for key in files} <= names
    # The workspace is deleted: its files are purged from the bucket.
    assert s3.workspace_objects_purge(schema_name=source.schema_name) == len(files)

    result = workspace_restore(archive=archive, slug="backup-purged")

    copy = result.tenant
    assert (result.objects_copied, result.objects_uploaded, result.missing_objects) == (0, 4, [])
    with schema_context(copy.schema_name):
        versions = list(DocumentVersion.objects.order_by("number"))
    for version in versions:
        stream = s3.object_stream(schema_name=copy.schema_name, key=version.key)
        assert stream is not None
        original = version.key.replace(
            f"workspaces/{copy.schema_name}/", f"workspaces/{source.schema_name}/"
        )
        assert b"".join(stream.chunks) == files[original][0]
        head = s3.object_head(schema_name=copy.schema_name, key=version.key)
        assert head is not None
        assert head["content_type"] == "application/pdf"
    copy.refresh_from_db()
    logo = s3.object_stream(schema_name=copy.schema_name, key=copy.logo_key)
    assert logo is not None
    assert b"".join(logo.chunks) == PNG + b"logo"


def test_a_replace_restore_with_files_uploads_what_the_bucket_lost(source, s3_bucket, tmp_path):
    files = _with_files(source)
    _first, second, _thumbnail, _logo = files
    archive = tmp_path / "with-files.tar.gz"
    call_command("workspace_export", source.slug, "--output", str(archive), "--with-files")
    s3.objects_delete(schema_name=source.schema_name, keys=[second])

    result = workspace_restore(archive=archive, replace=True)

    assert (result.objects_copied, result.objects_uploaded, result.missing_objects) == (0, 1, [])
    assert _read(second) == files[second][0]


def test_an_archive_with_a_corrupt_file_is_refused_and_changes_nothing(source, s3_bucket, tmp_path):
    files = _with_files(source)
    _first, second, _thumbnail, _logo = files
    archive = tmp_path / "with-files.tar.gz"
    call_command("workspace_export", source.slug, "--output", str(archive), "--with-files")
    corrupt = tmp_path / "corrupt.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(corrupt, "w:gz") as dst:
        for member in src.getmembers():
            content = src.extractfile(member)
            assert content is not None
            data = content.read()
            if member.name == f"files/{second}":
                data = data.replace(b"second", b"SECOND")
            dst.addfile(member, io.BytesIO(data))
    s3.workspace_objects_purge(schema_name=source.schema_name)
    before = (schema_names(), Tenant.objects.count(), _bucket_keys())

    with pytest.raises(BackupError, match=rf"corrupt: the file {second} does not match"):
        workspace_restore(archive=corrupt, slug="backup-corrupt")

    assert (schema_names(), Tenant.objects.count(), _bucket_keys()) == before
