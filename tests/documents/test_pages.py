from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.documents.models import Document
from crm_platform.security import content_security_policy
from tenants.roles import Role
from tests.conftest import workspace_client


def _document(owner, name: str, content_type: str = "application/pdf", **extra) -> Document:
    return Document.objects.create(
        name=name, content_type=content_type, size=10, uploaded_by=owner.user, **extra
    )


def _listed(response) -> list[str]:
    return [d.name for d in response.context["documents"]]


def test_the_documents_page_searches_by_name_type_uploader_and_date(alpha):
    rep = alpha.members[Role.SALES_REP]
    with schema_context(alpha.tenant.schema_name):
        _document(alpha.owner, "ใบเสนอราคา ลูกค้า.pdf")
        _document(rep, "报价单.png", "image/png")
        _document(alpha.owner, "Old.pdf", created_at=timezone.now() - timedelta(days=40))
        _document(alpha.owner, "Gone.pdf", deleted_at=timezone.now())
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    assert _listed(client.get("/documents/")) == ["报价单.png", "ใบเสนอราคา ลูกค้า.pdf", "Old.pdf"]
    assert _listed(client.get("/documents/", {"q": "ลูกค้า"})) == ["ใบเสนอราคา ลูกค้า.pdf"]
    assert _listed(client.get("/documents/", {"q": "报价"})) == ["报价单.png"]
    assert _listed(client.get("/documents/", {"type": "image"})) == ["报价单.png"]
    assert _listed(client.get("/documents/", {"uploader": rep.user.email})) == ["报价单.png"]
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert _listed(client.get("/documents/", {"date_from": since})) == [
        "报价单.png",
        "ใบเสนอราคา ลูกค้า.pdf",
    ]


def test_names_are_escaped_and_the_trash_is_for_admins(alpha):
    with schema_context(alpha.tenant.schema_name):
        _document(alpha.owner, "<script>alert(1)</script>.pdf")
        _document(alpha.owner, "Binned.pdf", deleted_at=timezone.now())
    reader = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    page = reader.get("/documents/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.pdf" in page
    assert "data-document-upload" not in page  # read-only members get no upload zone
    assert _listed(reader.get("/documents/", {"trash": "1"})) == ["<script>alert(1)</script>.pdf"]

    admin = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    assert "data-document-upload" in admin.get("/documents/").content.decode()
    assert _listed(admin.get("/documents/", {"trash": "1"})) == ["Binned.pdf"]


def test_the_navigation_lists_documents(alpha):
    page = workspace_client(alpha.owner.user, alpha.tenant).get("/").content.decode()
    assert 'href="/documents/"' in page


def test_browsers_may_upload_to_the_s3_endpoint(settings):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9000/some/path"
    assert "connect-src 'self' http://127.0.0.1:9000;" in content_security_policy()
    settings.AWS_S3_ENDPOINT_URL = ""
    settings.AWS_STORAGE_BUCKET_NAME = "rapport-documents"
    settings.AWS_S3_REGION_NAME = "eu-west-1"
    assert "connect-src 'self' https://s3.eu-west-1.amazonaws.com;" in content_security_policy()
    settings.AWS_STORAGE_BUCKET_NAME = ""
    assert "connect-src 'self';" in content_security_policy()
