"""Deleting a workspace deletes its files: once the schema is dropped, every object under
``workspaces/<schema>/`` (each version of each document, thumbnails, the logo) and every open
upload in parts is removed from the bucket — and not one object of another workspace."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from crm_modules.documents import logo, services
from crm_platform import s3
from crm_platform.errors import ServiceError
from tenants import services as tenant_services
from tenants.models import Membership
from tenants.roles import Role
from tests.conftest import Workspace
from tests.documents.conftest import put, s3_bucket, upload
from tests.ops.conftest import s3_endpoint
from tests.tenants.test_provisioning import _doomed_workspace

__all__ = ["s3_bucket", "s3_endpoint"]

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _fill(owner: Membership) -> str:
    """A document with three versions, its thumbnail, the logo and an upload left in parts."""
    schema = str(owner.tenant.schema_name)
    with schema_context(schema):
        document = upload(owner, b"%PDF-1.4 one", name="Plan.pdf", content_type="application/pdf")
        for body in (b"%PDF-1.4 two", b"%PDF-1.4 three"):
            ticket = services.document_upload_start(
                actor=owner,
                name="Plan.pdf",
                content_type="application/pdf",
                size=len(body),
                document=document,
            )
            assert put(ticket, body).status_code == 200
            services.document_upload_complete(actor=owner, ticket=ticket.ticket)
        s3.object_put(
            schema_name=schema,
            key=s3.thumbnail_key(schema_name=schema, document_uuid=str(document.uuid), version=1),
            data=PNG,
            content_type="image/png",
        )
        ticket = logo.workspace_logo_upload_start(
            actor=owner, content_type="image/png", size=len(PNG)
        )
        assert put(ticket, PNG).status_code == 200
        logo.workspace_logo_upload_complete(actor=owner, ticket=ticket.ticket)
    s3.multipart_create(
        schema_name=schema,
        key=s3.document_key(schema_name=schema, document_uuid=str(document.uuid), version=9),
        content_type="application/pdf",
    )
    return schema


def _open_uploads(schema: str) -> list[str]:
    answer = s3.s3_client().list_multipart_uploads(
        Bucket=s3_bucket_name(), Prefix=s3.workspace_prefix(schema)
    )
    return [item["Key"] for item in answer.get("Uploads", [])]


def _versions(schema: str) -> list[str]:
    answer = s3.s3_client().list_object_versions(
        Bucket=s3_bucket_name(), Prefix=s3.workspace_prefix(schema)
    )
    return [item["Key"] for item in [*answer.get("Versions", []), *answer.get("DeleteMarkers", [])]]


def s3_bucket_name() -> str:
    from django.conf import settings

    return str(settings.AWS_STORAGE_BUCKET_NAME)


def test_deleting_a_workspace_deletes_its_files_and_no_other(
    alpha: Workspace, s3_bucket: str, django_capture_on_commit_callbacks: Any
) -> None:
    doomed = _doomed_workspace("doomedfiles")
    schema = _fill(Membership.objects.get(tenant=doomed, role=Role.OWNER))
    kept = _fill(alpha.owner)
    kept_objects = s3.workspace_objects(schema_name=kept)
    # Three versions, a thumbnail and the logo.
    assert len(s3.workspace_objects(schema_name=schema)) == 5
    assert len(_open_uploads(schema)) == 1

    with connection.cursor() as cursor:
        # The test's transaction defers foreign keys; a schema is dropped only without pending
        # checks, as in a real deletion's own transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tenant_services.workspace_delete(tenant=doomed, actor=None)

    assert len(callbacks) >= 1
    assert s3.workspace_objects(schema_name=schema) == []
    assert _versions(schema) == []
    assert _open_uploads(schema) == []
    # Another workspace keeps every object and its open upload.
    assert s3.workspace_objects(schema_name=kept) == kept_objects
    assert len(_open_uploads(kept)) == 1


def test_a_failed_deletion_deletes_no_file(
    alpha: Workspace, s3_bucket: str, django_capture_on_commit_callbacks: Any
) -> None:
    schema = _fill(alpha.owner)
    before = s3.workspace_objects(schema_name=schema)

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ServiceError):
        tenant_services.workspace_delete(tenant=_public(), actor=None)

    assert callbacks == []
    assert s3.workspace_objects(schema_name=schema) == before


def _public() -> Any:
    from tenants.models import Tenant

    return Tenant(schema_name="public")


@pytest.fixture
def versioned_bucket(s3_bucket: str, settings: Any) -> Iterator[str]:
    """A bucket that keeps versions, as the production one does (terraform/modules/storage)."""
    settings.AWS_STORAGE_BUCKET_NAME = "rapport-test-versioned"
    client = s3.s3_client()
    client.create_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    client.put_bucket_versioning(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME, VersioningConfiguration={"Status": "Enabled"}
    )
    yield settings.AWS_STORAGE_BUCKET_NAME
    s3.workspace_objects_purge(schema_name="purged")
    s3.workspace_objects_purge(schema_name="purged_not")


def test_the_purge_deletes_every_version_page_by_page(versioned_bucket: str) -> None:
    """More objects than one listed page and one delete batch (1,000), each overwritten once and
    some deleted (a delete marker), in a bucket that keeps versions; a workspace whose name
    begins with the purged one's keeps its files."""
    client = s3.s3_client()
    keys = [f"workspaces/purged/documents/{n:05d}" for n in range(1100)]

    def write(key: str) -> None:
        client.put_object(Bucket=versioned_bucket, Key=key, Body=b"1")
        client.put_object(Bucket=versioned_bucket, Key=key, Body=b"2")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(write, keys))
    client.delete_object(Bucket=versioned_bucket, Key=keys[0])
    client.put_object(Bucket=versioned_bucket, Key="workspaces/purged_not/logo/a.png", Body=b"k")
    assert len(_versions("purged")) == 1000  # one page of 2,201

    assert s3.workspace_objects_purge(schema_name="purged") == 2201

    assert _versions("purged") == []
    assert _versions("purged_not") == ["workspaces/purged_not/logo/a.png"]
    # Nothing is left to do a second time.
    assert s3.workspace_objects_purge(schema_name="purged") == 0


@pytest.mark.parametrize("schema_name", ["", "..", "a/b"])
def test_the_purge_refuses_a_prefix_beyond_one_workspace(s3_bucket: str, schema_name: str) -> None:
    with pytest.raises(s3.KeyOutsideWorkspace):
        s3.workspace_objects_purge(schema_name=schema_name)


def test_the_purge_runs_on_the_bulk_queue() -> None:
    from django.conf import settings

    assert settings.CELERY_TASK_ROUTES["tenants.tasks.purge_workspace_objects"] == {"queue": "bulk"}
