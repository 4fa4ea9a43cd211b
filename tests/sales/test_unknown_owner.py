"""Records whose owner id names no account (a workspace restored into another database, ADR
0090): the pages and the API still answer, showing no owner."""

from __future__ import annotations

import pytest

from crm_modules.sales.models import Contact, Deal, Task
from tenants.models import User
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import CompanyFactory, ContactFactory, DealFactory

pytestmark = pytest.mark.usefixtures("in_alpha")

NOBODY = 2_000_000_001


def test_records_owned_by_an_id_without_an_account_still_show(alpha: Workspace) -> None:
    assert not User.objects.filter(pk=NOBODY).exists()
    company = CompanyFactory.create(name="Ghost Owner Ltd")
    contact = ContactFactory.create(company=company, first_name="Ghostly")
    deal = DealFactory.create(company=company, name="Unowned deal")
    # No database key stops an id that names no user (ADR 0090).
    Contact.objects.filter(pk=contact.pk).update(owner_id=NOBODY)
    Deal.objects.filter(pk=deal.pk).update(owner_id=NOBODY)
    Task.objects.create(title="Call back", owner_id=NOBODY, contact=contact)

    client = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    for path in (
        "/sales/contacts/",
        f"/sales/contacts/{contact.pk}/",
        "/sales/deals/",
        f"/sales/deals/{deal.pk}/",
        f"/sales/companies/{company.pk}/",
        "/sales/tasks/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
    assert "Ghostly" in client.get("/sales/contacts/").content.decode()

    listed = client.get("/api/v1/sales/contacts/").json()["results"]
    (row,) = [r for r in listed if r["id"] == contact.pk]
    assert row["first_name"] == "Ghostly"
    detail = client.get(f"/api/v1/sales/deals/{deal.pk}/")
    assert detail.status_code == 200
    assert detail.json()["name"] == "Unowned deal"
