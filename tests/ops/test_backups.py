"""Backup and restore of one workspace through pg_dump/psql against real PostgreSQL."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

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
def source(django_db_setup: None, django_db_blocker: Any) -> Iterator[Tenant]:
    """A committed workspace with data in every script (pg_dump reads committed rows only)."""
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
