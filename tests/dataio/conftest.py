"""Import and export tests: files go to a real S3 API (moto's server), records to the
workspace's schema."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from crm_modules.dataio.models import ImportJob
from crm_modules.dataio.services import imports
from tenants.models import Membership
from tests.conftest import Workspace
from tests.documents.conftest import s3_bucket
from tests.ops.conftest import s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]


@pytest.fixture
def in_alpha(alpha: Workspace) -> Iterator[Workspace]:
    with schema_context(alpha.tenant.schema_name):
        yield alpha


def fresh(membership: Membership) -> Membership:
    return Membership.objects.select_related("tenant", "user").get(pk=membership.pk)


def upload(
    actor: Membership, body: bytes, *, name: str = "people.csv", entity: str = "contact"
) -> ImportJob:
    return imports.import_upload(actor=actor, entity=entity, upload=SimpleUploadedFile(name, body))


def xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
