"""The storage quota comes from the plan (billing's plan-limits facade) and the workspace
settings page shows what is used of it."""

from __future__ import annotations

from django_tenants.utils import schema_context

from crm_modules.documents.models import Document, DocumentVersion
from crm_modules.documents.quota import storage_quota_bytes, storage_usage
from tenants.models import Plan, Tenant
from tenants.roles import Role
from tests.conftest import workspace_client

GIB = 1024**3


def test_the_quota_is_the_plans(alpha):
    tenant = Tenant(plan=Plan.STARTER)
    assert storage_quota_bytes(tenant) == 10 * GIB
    tenant.plan = Plan.TRIAL  # a trial runs on Professional
    assert storage_quota_bytes(tenant) == 100 * GIB
    tenant.plan = Plan.ENTERPRISE
    assert storage_quota_bytes(tenant) == 1024 * GIB


def _stored(size: int, *, restored: bool = False) -> None:
    document = Document.objects.create(name="a.txt", content_type="text/plain", size=size)
    DocumentVersion.objects.create(
        document=document, number=1, key="k", size=size, content_type="text/plain"
    )
    if restored:
        # A restored version reads its source's object: it takes no more room.
        DocumentVersion.objects.create(
            document=document,
            number=2,
            key="k",
            size=size,
            content_type="text/plain",
            restored_from=1,
        )


def test_usage_counts_every_version_once_and_the_trash(alpha):
    with schema_context(alpha.tenant.schema_name):
        _stored(3 * GIB, restored=True)
        _stored(2 * GIB)
        Document.objects.filter(size=2 * GIB).update(deleted_at="2026-01-01T00:00:00Z")
        usage = storage_usage(Tenant(plan=Plan.STARTER))
    assert (usage.used, usage.quota, usage.percent) == (5 * GIB, 10 * GIB, 50)


def test_the_settings_page_shows_a_usage_bar(alpha):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(plan=Plan.STARTER)
    with schema_context(alpha.tenant.schema_name):
        _stored(GIB + GIB // 2)
    response = workspace_client(alpha.owner.user, alpha.tenant).get("/settings/")
    html = response.content.decode()

    assert response.status_code == 200
    assert 'data-testid="storage-usage"' in html
    assert (
        f'<meter class="storage-meter" min="0" max="{10 * GIB}" value="{GIB + GIB // 2}"'
        f' high="{9 * GIB}" optimum="0"'
    ) in html
    assert "1.5\xa0GB of 10.0\xa0GB used (15%)" in html


def test_the_settings_page_of_an_empty_workspace_shows_nothing_used(alpha):
    response = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant).get("/settings/")
    assert "0\xa0bytes of 100.0\xa0GB used (0%)" in response.content.decode()
