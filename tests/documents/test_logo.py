"""The workspace logo: uploaded straight to S3 like a document, verified, shown in the header
to the workspace's own members only, replaced and removed by owners and admins, audited."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.core import signing
from django_tenants.utils import schema_context

from crm_modules.documents import logo
from crm_platform import s3
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import workspace_client
from tests.documents.conftest import put

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 64

pytestmark = pytest.mark.usefixtures("s3_bucket")


def _objects(schema_name: str) -> list[str]:
    return [item["key"] for item in s3.workspace_objects(schema_name=schema_name)]


def _logo_events(schema_name: str) -> list[tuple[str, int | None]]:
    with schema_context(schema_name):
        return list(
            AuditEvent.objects.filter(action__startswith="settings.logo")
            .order_by("pk")
            .values_list("action", "actor_id")
        )


def _upload_through_pages(client: Any, body: bytes, content_type: str) -> Any:
    started = client.post(
        "/documents/logo/uploads/",
        {"name": "logo", "content_type": content_type, "size": len(body)},
    )
    assert started.status_code == 200, started.content
    ticket = started.json()
    assert requests.put(ticket["url"], data=body, headers=ticket["headers"], timeout=10).ok
    return client.post("/documents/logo/uploads/complete/", {"ticket": ticket["ticket"]})


def test_an_admin_uploads_a_logo_every_member_sees_it_in_the_header(alpha, bravo):
    admin = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    schema = alpha.tenant.schema_name

    done = _upload_through_pages(admin, PNG, "image/png")

    assert done.status_code == 201
    key = Tenant.objects.get(pk=alpha.tenant.pk).logo_key
    assert key.startswith(f"workspaces/{schema}/logo/")
    assert key.endswith(".png")
    assert _objects(schema) == [key]
    assert _logo_events(schema) == [("settings.logo_changed", alpha.members[Role.ADMIN].user_id)]

    reader = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    page = reader.get("/").content.decode()
    assert 'data-testid="workspace-logo"' in page
    served = reader.get("/documents/logo/")
    assert served.status_code == 302
    fetched = requests.get(served["Location"], timeout=10)
    assert (fetched.status_code, fetched.content) == (200, PNG)
    assert fetched.headers["Content-Type"] == "image/png"

    # Another workspace shows no logo and has none to serve.
    other = workspace_client(bravo.owner.user, bravo.tenant)
    assert 'data-testid="workspace-logo"' not in other.get("/").content.decode()
    assert other.get("/documents/logo/").status_code == 404


def test_replacing_the_logo_deletes_the_old_object_and_removing_it_clears_the_header(
    in_alpha, django_capture_on_commit_callbacks
):
    owner = in_alpha.owner
    schema = in_alpha.tenant.schema_name
    first = logo.workspace_logo_upload_start(actor=owner, content_type="image/png", size=len(PNG))
    assert put(first, PNG).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        first_key = logo.workspace_logo_upload_complete(actor=owner, ticket=first.ticket)
    second = logo.workspace_logo_upload_start(
        actor=owner, content_type="image/jpeg", size=len(JPEG)
    )
    assert put(second, JPEG).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        second_key = logo.workspace_logo_upload_complete(actor=owner, ticket=second.ticket)

    assert second_key != first_key
    assert second_key.endswith(".jpg")
    assert _objects(schema) == [second_key]
    assert Tenant.objects.get(pk=in_alpha.tenant.pk).logo_key == second_key

    client = workspace_client(owner.user, in_alpha.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/documents/logo/remove/")
    assert response.status_code == 302
    assert Tenant.objects.get(pk=in_alpha.tenant.pk).logo_key == ""
    assert _objects(schema) == []
    assert 'data-testid="workspace-logo"' not in client.get("/").content.decode()
    assert client.get("/documents/logo/").status_code == 404
    assert [action for action, _ in _logo_events(schema)] == [
        "settings.logo_changed",
        "settings.logo_changed",
        "settings.logo_removed",
    ]


@pytest.mark.parametrize(
    ("content_type", "size", "field"),
    [
        ("image/svg+xml", 100, "content_type"),
        ("text/html", 100, "content_type"),
        ("application/pdf", 100, "content_type"),
        ("image/png", 0, "size"),
        ("image/png", 1024 * 1024 + 1, "size"),
    ],
)
def test_only_small_images_may_be_a_logo(in_alpha, content_type, size, field):
    with pytest.raises(ServiceError) as error:
        logo.workspace_logo_upload_start(actor=in_alpha.owner, content_type=content_type, size=size)
    assert error.value.field == field
    assert _objects(in_alpha.tenant.schema_name) == []


def test_a_page_sees_the_error_naming_the_field(alpha):
    admin = workspace_client(alpha.owner.user, alpha.tenant)
    response = admin.post(
        "/documents/logo/uploads/", {"name": "x", "content_type": "image/svg+xml", "size": 10}
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "A logo must be a PNG, JPEG, GIF or WebP image.",
        "field": "content_type",
    }


def test_html_declared_as_a_png_is_deleted_and_refused(in_alpha):
    owner = in_alpha.owner
    body = b"<html><script>alert(1)</script></html>" + b" " * 40
    ticket = logo.workspace_logo_upload_start(actor=owner, content_type="image/png", size=len(body))
    assert put(ticket, body).status_code == 200

    with pytest.raises(ServiceError) as error:
        logo.workspace_logo_upload_complete(actor=owner, ticket=ticket.ticket)

    assert error.value.field == "ticket"
    assert _objects(in_alpha.tenant.schema_name) == []
    assert Tenant.objects.get(pk=in_alpha.tenant.pk).logo_key == ""
    assert _logo_events(in_alpha.tenant.schema_name) == []


def test_a_logo_never_sent_or_completed_twice_is_refused(in_alpha):
    owner = in_alpha.owner
    ticket = logo.workspace_logo_upload_start(actor=owner, content_type="image/png", size=len(PNG))
    with pytest.raises(ServiceError, match="has not arrived"):
        logo.workspace_logo_upload_complete(actor=owner, ticket=ticket.ticket)
    assert put(ticket, PNG).status_code == 200
    logo.workspace_logo_upload_complete(actor=owner, ticket=ticket.ticket)
    with pytest.raises(ServiceError, match="already complete"):
        logo.workspace_logo_upload_complete(actor=owner, ticket=ticket.ticket)
    assert len(_logo_events(in_alpha.tenant.schema_name)) == 1


def test_a_ticket_from_another_workspace_or_a_forged_one_is_refused(alpha, bravo):
    with schema_context(alpha.tenant.schema_name):
        ticket = logo.workspace_logo_upload_start(
            actor=alpha.owner, content_type="image/png", size=len(PNG)
        )
        assert put(ticket, PNG).status_code == 200
    forged = signing.dumps({"schema": bravo.tenant.schema_name, "user": bravo.owner.user_id})
    with schema_context(bravo.tenant.schema_name):
        for value in (ticket.ticket, forged):
            with pytest.raises(ServiceError) as error:
                logo.workspace_logo_upload_complete(actor=bravo.owner, ticket=value)
            assert error.value.field == "ticket"
    assert Tenant.objects.get(pk=bravo.tenant.pk).logo_key == ""
    assert Tenant.objects.get(pk=alpha.tenant.pk).logo_key == ""


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.READ_ONLY])
def test_only_owners_and_admins_change_the_logo(alpha, role):
    member = alpha.members[role]
    with schema_context(alpha.tenant.schema_name):
        with pytest.raises(PermissionDenied):
            logo.workspace_logo_upload_start(actor=member, content_type="image/png", size=10)
        with pytest.raises(PermissionDenied):
            logo.workspace_logo_remove(actor=member)
    client = workspace_client(member.user, alpha.tenant)
    started = client.post(
        "/documents/logo/uploads/", {"name": "x", "content_type": "image/png", "size": 10}
    )
    assert started.status_code == 403
    assert client.post("/documents/logo/remove/").status_code == 403
    assert 'data-testid="logo-settings"' not in client.get("/settings/").content.decode()
    assert _objects(alpha.tenant.schema_name) == []
    assert _logo_events(alpha.tenant.schema_name) == []


def test_the_settings_page_offers_the_logo_upload_to_admins(alpha):
    page = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant).get("/settings/")
    html = page.content.decode()
    assert 'data-testid="logo-settings"' in html
    assert 'data-start-url="/documents/logo/uploads/"' in html
    assert "Logo upload arrives" not in html
