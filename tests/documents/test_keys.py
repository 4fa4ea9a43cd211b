from __future__ import annotations

import uuid

import pytest

from crm_modules.documents import services
from crm_modules.documents.models import DocumentVersion
from crm_platform import s3
from tests.documents.conftest import upload


def test_keys_are_built_inside_the_workspace_prefix():
    document_uuid = uuid.uuid4()
    key = s3.document_key(schema_name="alpha_x", document_uuid=str(document_uuid), version=3)
    assert key == f"workspaces/alpha_x/documents/{document_uuid}/3"


@pytest.mark.parametrize(
    "key",
    [
        "workspaces/bravo/documents/x/1",
        "workspaces/alpha/../bravo/documents/x/1",
        "workspaces/alpha//x",
        "alpha/documents/x/1",
        "workspaces/alphabet/documents/x/1",
        "",
    ],
)
def test_a_workspace_cannot_name_a_key_outside_its_prefix(key):
    with pytest.raises(s3.KeyOutsideWorkspace):
        s3.workspace_key(schema_name="alpha", key=key)


def test_a_key_never_carries_a_user_supplied_segment():
    with pytest.raises(ValueError, match="badly formed"):
        s3.document_key(schema_name="alpha", document_uuid="../../bravo", version=1)


@pytest.mark.parametrize(
    "operation", ["presign_get", "object_head", "object_read_start", "objects_delete"]
)
def test_no_operation_reaches_another_workspaces_object(operation, s3_bucket):
    foreign = f"workspaces/bravo/documents/{uuid.uuid4()}/1"
    calls = {
        "presign_get": lambda: s3.presign_get(
            schema_name="alpha",
            key=foreign,
            content_type="application/pdf",
            content_disposition="inline",
            expires_in=60,
        ),
        "object_head": lambda: s3.object_head(schema_name="alpha", key=foreign),
        "object_read_start": lambda: s3.object_read_start(
            schema_name="alpha", key=foreign, length=10
        ),
        "objects_delete": lambda: s3.objects_delete(schema_name="alpha", keys=[foreign]),
    }
    with pytest.raises(s3.KeyOutsideWorkspace):
        calls[operation]()


def test_a_tampered_version_row_cannot_read_another_workspaces_object(in_alpha, s3_bucket, bravo):
    document = upload(in_alpha.owner, b"%PDF-1.4 alpha")
    version = document.versions.get()
    DocumentVersion.objects.filter(pk=version.pk).update(
        key=version.key.replace(in_alpha.tenant.schema_name, bravo.tenant.schema_name)
    )
    with pytest.raises(s3.KeyOutsideWorkspace):
        services.document_download_url(actor=in_alpha.owner, document=document)
