"""The sales REST API: input serializer → service → output serializer, one error shape,
cursor pagination with constant queries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm_modules.sales.models import Contact, DealStageChange, Lead
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import ContactFactory, DealFactory, LeadFactory, PipelineFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


def _send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def test_contact_is_created_with_normalised_phone(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = _send(
        client,
        "POST",
        "/api/v1/sales/contacts/",
        {
            "first_name": "Giulia",
            "emails": [{"email": "G@Example.it", "primary": True}],
            "phones": ["+39 06 6982 1234"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["primary_email"], body["phones"]) == ("g@example.it", ["+390669821234"])
    assert body["emails"] == [{"email": "g@example.it", "primary": True}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"first_name": "A", "phones": ["555"]}, "phones"),
        ({"first_name": "A", "emails": [{"email": "nope"}]}, "emails"),
        ({"first_name": "A", "lifecycle_stage": "champion"}, "lifecycle_stage"),
        ({"first_name": "A", "company": "x"}, "company"),
        ({"first_name": "A", "owner": 999999}, "owner"),
    ],
)
def test_bad_contact_input_names_the_field_and_saves_nothing(
    alpha: Workspace, body: dict[str, Any], field: str
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = _send(client, "POST", "/api/v1/sales/contacts/", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error["fields"]) == {field}
    assert not Contact.objects.exists()


def test_html_and_formulas_are_stored_verbatim(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    values = {"first_name": "<b>x</b>", "last_name": "=HYPERLINK(1)", "notes": "'; DROP TABLE--"}
    response = _send(client, "POST", "/api/v1/sales/contacts/", values)
    assert response.status_code == 201
    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name, contact.notes) == tuple(values.values())


def test_contact_list_pages_by_cursor_with_constant_queries(alpha: Workspace) -> None:
    ContactFactory.create_batch(5)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    client.get("/api/v1/sales/contacts/")
    with CaptureQueriesContext(connection) as few:
        first = client.get("/api/v1/sales/contacts/?page_size=3").json()
    ContactFactory.create_batch(20)
    with CaptureQueriesContext(connection) as many:
        client.get("/api/v1/sales/contacts/?page_size=3")
    assert len(few) == len(many)
    assert len(first["results"]) == 3
    # The cursor continues after the last row seen: the 20 newer contacts do not shift it.
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2
    assert {r["id"] for r in first["results"]}.isdisjoint({r["id"] for r in second["results"]})


def test_contact_list_queries_do_not_grow_with_the_rows_of_a_page(alpha: Workspace) -> None:
    for contact in ContactFactory.create_batch(6):
        contact.emails.create(email=f"b{contact.pk}@example.com", is_primary=False)
        contact.emails.create(email=f"a{contact.pk}@example.com", is_primary=True)
        contact.phones.create(number=f"+3906{contact.pk:08d}", is_primary=True)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    client.get("/api/v1/sales/contacts/")
    with CaptureQueriesContext(connection) as one_row:
        client.get("/api/v1/sales/contacts/?page_size=1")
    with CaptureQueriesContext(connection) as six_rows:
        body = client.get("/api/v1/sales/contacts/?page_size=6").json()
    assert len(six_rows) == len(one_row)
    # Still the primary first, then in the order they were added.
    first = body["results"][0]
    assert [e["primary"] for e in first["emails"]] == [True, False]
    assert first["emails"][0]["email"] == f"a{first['id']}@example.com"
    assert first["phones"] == [f"+3906{first['id']:08d}"]


def test_contact_list_filters_by_owner_and_stage(alpha: Workspace) -> None:
    mine = ContactFactory.create(owner=alpha.owner.user, lifecycle_stage="customer")
    ContactFactory.create(owner=alpha.owner.user, lifecycle_stage="lead")
    ContactFactory.create(lifecycle_stage="customer")
    client = workspace_client(alpha.owner.user, alpha.tenant)
    url = f"/api/v1/sales/contacts/?owner={alpha.owner.user_id}&lifecycle_stage=customer"
    assert [r["id"] for r in client.get(url).json()["results"]] == [mine.pk]


def test_patching_a_deal_stage_records_history(alpha: Workspace) -> None:
    deal = DealFactory.create(owner=alpha.owner.user)
    proposal = deal.pipeline.stages.get(position=1)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = _send(client, "PATCH", f"/api/v1/sales/deals/{deal.pk}/", {"stage": proposal.pk})
    assert response.status_code == 200
    assert response.json()["stage"] == proposal.pk
    assert list(DealStageChange.objects.values_list("to_stage", flat=True)) == [proposal.pk]


def test_a_stage_of_another_pipeline_is_refused(alpha: Workspace) -> None:
    deal = DealFactory.create(owner=alpha.owner.user)
    other = PipelineFactory.create().stages.get(position=1)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = _send(client, "PATCH", f"/api/v1/sales/deals/{deal.pk}/", {"stage": other.pk})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["stage"]
    assert not DealStageChange.objects.exists()


def test_stale_update_is_refused_as_a_conflict(alpha: Workspace) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    created = _send(client, "POST", "/api/v1/sales/contacts/", {"first_name": "Ann"}).json()
    path = f"/api/v1/sales/contacts/{created['id']}/"
    first = _send(client, "PATCH", path, {"job_title": "CEO", "updated_at": created["updated_at"]})
    assert first.status_code == 200
    second = _send(client, "PATCH", path, {"job_title": "CFO", "updated_at": created["updated_at"]})
    assert second.status_code == 400
    assert second.json()["error"]["code"] == "conflict"
    assert Contact.objects.get().job_title == "CEO"


def test_lead_is_converted_with_a_deal(alpha: Workspace) -> None:
    lead = LeadFactory.create(owner=alpha.members[Role.SALES_REP].user, company_name="Acme")
    stage = PipelineFactory.create().stages.get(position=0)
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    response = _send(
        client,
        "POST",
        f"/api/v1/sales/leads/{lead.pk}/convert/",
        {"deal_stage": stage.pk, "deal_amount": "99.90"},
    )
    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED
    assert lead.deal is not None
    assert str(lead.deal.amount) == "99.90"


def test_a_call_logged_on_a_deal_through_the_api_shows_on_its_contact(alpha: Workspace) -> None:
    contact = ContactFactory.create()
    deal = DealFactory.create()
    deal.contacts.set([contact])
    client = workspace_client(alpha.members[Role.SUPPORT_AGENT].user, alpha.tenant)
    response = _send(
        client,
        "POST",
        f"/api/v1/sales/deals/{deal.pk}/activities/",
        {"kind": "call", "subject": "Pricing", "direction": "outbound"},
    )
    assert response.status_code == 201, response.content
    listed = client.get(f"/api/v1/sales/contacts/{contact.pk}/activities/").json()
    assert [(a["kind"], a["subject"], a["direction"]) for a in listed] == [
        ("call", "Pricing", "outbound")
    ]
    bad = _send(client, "POST", f"/api/v1/sales/deals/{deal.pk}/activities/", {"kind": "fax"})
    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]) == ["kind"]
