"""A workspace read-only for want of payment keeps its data and lets it be exported: the
list exports (sent by a form, so a POST) answer, while every change stays refused."""

from __future__ import annotations

import csv
import io

import pytest
from django_tenants.utils import schema_context

from crm_modules.sales.services import contact_create
from tenants.models import Tenant
from tests.conftest import Workspace, workspace_client
from tests.dataio.conftest import fresh


@pytest.mark.parametrize(
    "status",
    [
        Tenant.BillingStatus.TRIAL_EXPIRED,
        Tenant.BillingStatus.UNPAID,
        Tenant.BillingStatus.CANCELED,
    ],
)
def test_a_read_only_workspace_exports_its_lists_and_changes_nothing(
    alpha: Workspace, status: str
) -> None:
    with schema_context(alpha.tenant.schema_name):
        contact_create(actor=fresh(alpha.owner), first_name="Ada", last_name="Lovelace")
    Tenant.objects.filter(pk=alpha.tenant.pk).update(billing_status=status)
    client = workspace_client(alpha.owner.user, alpha.tenant)

    response = client.post("/data/export/contacts/", {"format": "csv"})

    assert response.status_code == 200, response.content[:300]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[1:3] for row in rows[1:]] == [["Ada", "Lovelace"]]
    assert client.get("/members/export.csv").status_code == 200
    # Changes stay refused.
    assert client.post("/sales/contacts/new/", {"first_name": "Bob"}).status_code == 403
    assert client.post("/settings/", {"name": "Changed"}).status_code == 403
    assert Tenant.objects.get(pk=alpha.tenant.pk).name == "Alpha Inc"


def test_a_suspended_workspace_exports_nothing(alpha: Workspace) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(state=Tenant.State.SUSPENDED)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert client.post("/data/export/contacts/", {"format": "csv"}).status_code == 403
