from __future__ import annotations

import pytest
import requests

from crm_modules.documents import services
from tenants.roles import Role
from tests.conftest import workspace_client
from tests.documents.conftest import upload

PDF = b"%PDF-1.4 preview me"


def test_a_pdf_previews_inline_through_a_short_lived_url(in_alpha, s3_bucket):
    document = upload(in_alpha.owner, PDF, name="Предложение.pdf", content_type="application/pdf")
    url = services.document_download_url(actor=in_alpha.members[Role.READ_ONLY], document=document)

    assert "X-Amz-Expires=60" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == PDF
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert fetched.headers["Content-Disposition"] == (
        "inline; filename=\"___________.pdf\"; filename*=UTF-8''"
        "%D0%9F%D1%80%D0%B5%D0%B4%D0%BB%D0%BE%D0%B6%D0%B5%D0%BD%D0%B8%D0%B5.pdf"
    )


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "application/xml"])
def test_active_types_only_ever_download_as_attachments(in_alpha, s3_bucket, content_type):
    body = b"<svg onload=alert(1)>"
    document = upload(in_alpha.owner, body, name='<img src=x>"q".html', content_type=content_type)
    fetched = requests.get(
        services.document_download_url(actor=in_alpha.owner, document=document), timeout=10
    )
    assert fetched.content == body
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    assert fetched.headers["Content-Disposition"] == (
        'attachment; filename="<img src=x>_q_.html"; '
        "filename*=UTF-8''%3Cimg%20src%3Dx%3E%22q%22.html"
    )


def test_the_download_page_redirects_after_the_permission_check(alpha, s3_bucket):
    from django_tenants.utils import schema_context

    with schema_context(alpha.tenant.schema_name):
        document = upload(alpha.owner, PDF)
    client = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)

    response = client.get(f"/documents/{document.pk}/download/")

    assert response.status_code == 302
    assert response["X-Content-Type-Options"] == "nosniff"
    assert requests.get(response["Location"], timeout=10).content == PDF


def test_another_workspaces_document_is_not_found(alpha, bravo, s3_bucket):
    from django_tenants.utils import schema_context

    with schema_context(alpha.tenant.schema_name):
        document = upload(alpha.owner, PDF)
    client = workspace_client(bravo.owner.user, bravo.tenant)
    assert client.get(f"/documents/{document.pk}/download/").status_code == 404
    assert client.get(f"/documents/{document.pk}/").status_code == 404
