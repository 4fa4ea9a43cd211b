"""Lists: bulk actions checked per record, saved views (private or shared), custom fields as
columns; custom fields shown and edited on record pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages

from crm_modules.sales import services
from crm_modules.sales.models import Company, Contact, Deal, Lead, SavedView
from crm_modules.sales.services.bulk import records_bulk_apply
from crm_modules.sales.services.views import saved_view_create
from crm_platform.errors import ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import CompanyFactory, ContactFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


def test_an_admin_gives_many_contacts_to_a_rep(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    contacts = [ContactFactory.create(owner=alpha.owner.user) for _n in range(3)]
    result = records_bulk_apply(
        actor=fresh(alpha.members[Role.ADMIN]),
        entity="contact",
        ids=[c.pk for c in contacts],
        action="owner",
        value=str(rep.user_id),
    )
    assert (result.changed, result.skipped) == (3, 0)
    assert set(Contact.objects.values_list("owner", flat=True)) == {rep.user_id}
    assert AuditEvent.objects.filter(action="contact.updated").count() == 3


def test_a_rep_tags_only_their_own_contacts_and_the_rest_is_skipped(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    mine = ContactFactory.create(owner=rep.user, tags=["vip"])
    theirs = ContactFactory.create(owner=alpha.owner.user)
    client = workspace_client(rep.user, alpha.tenant)
    response = client.post(
        "/sales/contacts/bulk/",
        {
            "ids": [mine.pk, theirs.pk, 999999],
            "action": "tag",
            "tag": " fair 2026 ",
            "next": "/sales/contacts/?stage=lead",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/sales/contacts/?stage=lead"
    assert Contact.objects.get(pk=mine.pk).tags == ["vip", "fair 2026"]
    assert Contact.objects.get(pk=theirs.pk).tags == []
    [message] = list(get_messages(response.wsgi_request))
    assert str(message) == "Changed: 1. Skipped, not allowed for you: 2."


@pytest.mark.parametrize(
    ("entity", "factory", "model"),
    [
        ("company", CompanyFactory, Company),
        ("lead", LeadFactory, Lead),
        ("deal", DealFactory, Deal),
    ],
)
def test_bulk_delete_is_for_roles_that_may_delete(
    alpha: Workspace, entity: str, factory: Any, model: Any
) -> None:
    ids = [factory.create(owner=alpha.members[Role.SALES_REP].user).pk for _n in range(2)]
    as_rep = records_bulk_apply(
        actor=fresh(alpha.members[Role.SALES_REP]), entity=entity, ids=ids, action="delete"
    )
    assert (as_rep.changed, as_rep.skipped) == (0, 2)
    assert model.objects.count() == 2
    as_admin = records_bulk_apply(
        actor=fresh(alpha.members[Role.ADMIN]), entity=entity, ids=ids, action="delete"
    )
    assert as_admin.changed == 2
    assert not model.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"entity": "lead", "action": "lifecycle", "value": "lead"}, "action"),
        ({"entity": "contact", "action": "stage", "value": "1"}, "action"),
        ({"entity": "contact", "action": "lifecycle", "value": "champion"}, "value"),
        ({"entity": "contact", "action": "explode"}, "action"),
        ({"entity": "contact", "action": "owner", "value": "999999"}, "value"),
        ({"entity": "contact", "action": "tag", "value": ""}, "value"),
        ({"entity": "contact", "action": "delete", "ids": []}, "ids"),
        ({"entity": "contact", "action": "delete", "ids": ["x"]}, "ids"),
    ],
)
def test_bad_bulk_input_is_named_and_changes_nothing(
    alpha: Workspace, kwargs: dict[str, object], field: str
) -> None:
    contact = ContactFactory.create(owner=alpha.owner.user)
    values: dict[str, object] = {"ids": [contact.pk], **kwargs}
    with pytest.raises(ServiceError) as refused:
        records_bulk_apply(actor=fresh(alpha.owner), **values)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert Contact.objects.get().tags == []
    assert Contact.objects.get().owner_id == alpha.owner.user_id


def test_bulk_actions_offered_follow_the_role(alpha: Workspace) -> None:
    ContactFactory.create()
    html = (
        workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
        .get("/sales/contacts/")
        .content.decode()
    )
    assert 'data-testid="bulk-actions"' not in html
    assert 'name="ids"' not in html
    html = (
        workspace_client(alpha.members[Role.MANAGER].user, alpha.tenant)
        .get("/sales/contacts/")
        .content.decode()
    )
    assert 'value="owner"' in html
    assert 'value="delete"' in html
    assert 'name="ids"' in html


def test_saved_views_are_private_unless_shared(alpha: Workspace) -> None:
    rep, manager = alpha.members[Role.SALES_REP], alpha.members[Role.MANAGER]
    client = workspace_client(rep.user, alpha.tenant)
    response = client.post(
        "/sales/views/",
        {"entity": "contact", "name": "My leads", "query": "stage=lead&mine=1&after=abc"},
    )
    view = SavedView.objects.get()
    assert response["Location"] == "/sales/contacts/?stage=lead&mine=1"
    assert (view.owner_id, view.shared, view.query) == (rep.user_id, False, "stage=lead&mine=1")
    assert "My leads" in client.get("/sales/contacts/").content.decode()
    other = workspace_client(manager.user, alpha.tenant)
    assert "My leads" not in other.get("/sales/contacts/").content.decode()
    with pytest.raises(ServiceError) as refused:
        saved_view_create(actor=fresh(rep), entity="deal", name="Team", query="", shared=True)
    assert refused.value.field == "shared"
    other.post(
        "/sales/views/",
        {"entity": "deal", "name": "Big deals", "query": "sort=-amount", "shared": "on"},
    )
    assert "Big deals" in client.get("/sales/deals/list/").content.decode()
    shared = SavedView.objects.get(name="Big deals")
    client.post(f"/sales/views/{shared.pk}/delete/")
    assert SavedView.objects.filter(pk=shared.pk).exists()
    client.post(f"/sales/views/{view.pk}/delete/")
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert other.post(f"/sales/views/{view.pk}/delete/").status_code == 404


def test_a_custom_field_is_a_list_column_and_edited_on_the_record_page(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    services.custom_field_create(
        actor=actor,
        entity="contact",
        code="tier",
        label="Tier",
        type="select",
        options=["gold", "silver"],
    )
    services.custom_field_create(
        actor=actor, entity="contact", code="vip", label="VIP", type="boolean"
    )
    contact = ContactFactory.create(owner=alpha.owner.user)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    page = client.get(f"/sales/contacts/{contact.pk}/").content.decode()
    assert 'name="cf_tier"' in page
    stamp = Contact.objects.get().updated_at.isoformat()
    response = client.post(
        f"/sales/contacts/{contact.pk}/custom/",
        {"cf_tier": "gold", "cf_vip": "true", "updated_at": stamp},
    )
    assert response.status_code == 302
    assert Contact.objects.get().custom == {"tier": "gold", "vip": True}
    listed = client.get("/sales/contacts/?cols=tier&cols=vip").content.decode()
    assert "<th>Tier</th>" in listed
    assert 'data-column="tier">gold</td>' in listed
    assert 'data-column="vip">Yes</td>' in listed
    assert "<th>Tier</th>" not in client.get("/sales/contacts/").content.decode()

    response = client.post(f"/sales/contacts/{contact.pk}/custom/", {"cf_tier": "bronze"})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Tier: Choose a value from the list."
    ]
    response = client.post(
        f"/sales/contacts/{contact.pk}/custom/", {"cf_tier": "silver", "updated_at": stamp}
    )
    # Messages pile up across redirects that are not followed: the newest is this answer's.
    newest = list(get_messages(response.wsgi_request))[-1]
    assert "Someone else changed this record" in str(newest)
    assert Contact.objects.get().custom == {"tier": "gold", "vip": True}

    reader = workspace_client(alpha.members[Role.READ_ONLY].user, alpha.tenant)
    page = reader.get(f"/sales/contacts/{contact.pk}/").content.decode()
    assert 'name="cf_tier"' not in page
    assert 'data-field="tier">gold</dd>' in page


def test_custom_fields_are_filled_in_when_a_record_is_created(alpha: Workspace) -> None:
    services.custom_field_create(
        actor=fresh(alpha.owner),
        entity="company",
        code="employees",
        label="Employees",
        type="number",
    )
    client = workspace_client(alpha.owner.user, alpha.tenant)
    assert 'name="cf_employees"' in client.get("/sales/companies/new/").content.decode()
    response = client.post("/sales/companies/new/", {"name": "Acme", "cf_employees": "many"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Employees: Enter a whole number." in html
    assert 'value="many"' in html
    assert not Company.objects.exists()
    response = client.post("/sales/companies/new/", {"name": "Acme", "cf_employees": "250"})
    assert response.status_code == 302
    assert Company.objects.get().custom == {"employees": 250}
