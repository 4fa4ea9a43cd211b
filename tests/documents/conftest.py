"""Documents tests run against a real S3 API (moto's server) and register the test module's
notes as an attachable record type, as a product module would from its module.py."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django_tenants.utils import schema_context

from crm_modules.documents import services
from crm_modules.documents.api import register_attachable, unregister_attachable
from crm_modules.documents.models import Document
from tenants.models import Membership
from tests.conftest import Workspace
from tests.kit_module.models import Note
from tests.kit_module.module import VIEW_NOTES
from tests.ops.conftest import s3_endpoint

__all__ = ["s3_endpoint"]

NOTE = "kit_module.note"


@pytest.fixture
def s3_bucket(s3_endpoint: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty bucket on the run's moto server: objects outlive each test's rollback."""
    from crm_platform import s3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_STORAGE_BUCKET_NAME = "rapport-test-documents"
    client = s3.s3_client()
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    listed = client.list_objects_v2(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    for item in listed.get("Contents", []):
        client.delete_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=item["Key"])
    uploads = client.list_multipart_uploads(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    for item in uploads.get("Uploads", []):
        client.abort_multipart_upload(
            Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=item["Key"], UploadId=item["UploadId"]
        )
    return str(settings.AWS_STORAGE_BUCKET_NAME)


@pytest.fixture
def notes_attachable() -> Iterator[str]:
    register_attachable(NOTE, Note, "Note", VIEW_NOTES)
    yield NOTE
    unregister_attachable(NOTE)


@pytest.fixture
def in_alpha(alpha: Workspace) -> Iterator[Workspace]:
    with schema_context(alpha.tenant.schema_name):
        yield alpha


def put(ticket: services.UploadTicket, body: bytes, **headers: str) -> requests.Response:
    """What the browser does with a presigned PUT."""
    return requests.put(ticket.url, data=body, headers={**ticket.headers, **headers}, timeout=10)


def upload(
    actor: Membership,
    body: bytes,
    *,
    name: str = "contract.txt",
    content_type: str = "text/plain",
    **kwargs: Any,
) -> Document:
    ticket = services.document_upload_start(
        actor=actor, name=name, content_type=content_type, size=len(body), **kwargs
    )
    assert put(ticket, body).status_code == 200
    return services.document_upload_complete(actor=actor, ticket=ticket.ticket)
