"""Imports and exports through the API channel: the same capabilities as the pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from crm_modules.dataio.models import ExportJob
from crm_modules.dataio.services import imports
from crm_modules.sales.services import contact_create
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.dataio.conftest import fresh

pytestmark = pytest.mark.usefixtures("s3_bucket")


def _post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_an_export_asked_through_the_api_is_offered_when_ready(
    alpha: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    with schema_context(alpha.tenant.schema_name):
        actor = fresh(alpha.owner)
        contact_create(actor=actor, first_name="Ada", emails=["ada@example.com"])
        contact_create(actor=actor, first_name="Bob")
    client = workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client, "/api/v1/data/exports/", {"entity": "contact", "filters": {"q": "ada"}}
        )

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    detail = client.get(f"/api/v1/data/exports/{response.json()['id']}/").json()
    assert (detail["status"], detail["row_count"], detail["filters"]) == ("done", 1, {"q": "ada"})
    body = requests.get(detail["download_url"], timeout=10).content.decode("utf-8-sig")
    assert "ada@example.com" in body
    assert "Bob" not in body


def test_the_api_refuses_a_bad_export_naming_the_field(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = _post(client, "/api/v1/data/exports/", {"entity": "planets"})
    assert response.status_code == 400
    assert "entity" in json.dumps(response.json())
    with schema_context(alpha.tenant.schema_name):
        assert not ExportJob.objects.exists()


def test_imports_are_listed_with_their_progress(alpha: Workspace) -> None:
    with schema_context(alpha.tenant.schema_name):
        job = imports.import_upload(
            actor=fresh(alpha.owner),
            entity="contact",
            upload=SimpleUploadedFile("a.csv", b"Email\r\na@example.com\r\n"),
        )
    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    listed = client.get("/api/v1/data/imports/").json()
    assert [(item["id"], item["status"]) for item in listed["results"]] == [(job.pk, "mapping")]
    assert client.get(f"/api/v1/data/imports/{job.pk}/").json()["file_name"] == "a.csv"


def test_a_sales_rep_can_neither_export_nor_see_imports_through_the_api(alpha: Workspace) -> None:
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    assert _post(client, "/api/v1/data/exports/", {"entity": "contact"}).status_code == 403
    assert client.get("/api/v1/data/imports/").status_code == 403
    with schema_context(alpha.tenant.schema_name):
        assert not ExportJob.objects.exists()
        assert not AuditEvent.objects.filter(action="records.exported").exists()
