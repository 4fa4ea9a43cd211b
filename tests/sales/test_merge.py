"""Merging contacts and companies: values chosen per field, everything moves to the survivor,
the merge is audited, refused on concurrent changes, and undone within 7 days."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm_modules.activities import api as timeline
from crm_modules.documents.models import Document, DocumentLink
from crm_modules.sales import services
from crm_modules.sales.models import (
    Company,
    CompanyMembership,
    Consent,
    Contact,
    Deal,
    Lead,
    MergeRecord,
    Task,
)
from crm_modules.sales.services.merge import companies_merge, contacts_merge, merge_undo
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import DealFactory, LeadFactory, TaskFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


def _send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def _pair(alpha: Workspace) -> tuple[Contact, Contact]:
    actor = fresh(alpha.owner)
    acme = services.company_create(actor=actor, name="Acme")
    keep = services.contact_create(
        actor=actor,
        first_name="Anna",
        last_name="",
        emails=["anna@keep.example"],
        tags=["vip"],
    )
    gone = services.contact_create(
        actor=actor,
        first_name="Анна",
        last_name="Иванова",
        job_title="CTO",
        emails=["anna@gone.example"],
        phones=["+39 06 6982 1234"],
        company=acme,
        tags=["fair"],
    )
    return keep, gone


def _document(alpha: Workspace, record: Any) -> Document:
    document = Document.objects.create(
        name="Offer.pdf", content_type="application/pdf", size=4, uploaded_by=alpha.owner.user
    )
    DocumentLink.objects.create(document=document, record_type="sales.contact", record_id=record.pk)
    return document


def test_contacts_merge_moves_everything_and_undo_restores_it(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    keep, gone = _pair(alpha)
    task = TaskFactory.create(contact=gone, title="Call")
    lead = LeadFactory.create(contact=gone)
    deal = DealFactory.create()
    deal.contacts.add(gone)
    call = timeline.activity_log(kind="call", author=alpha.owner.user, concerns=[gone])
    both = timeline.activity_log(kind="note", author=alpha.owner.user, concerns=[gone, keep])
    document = _document(alpha, gone)
    services.contact_set_consent(
        actor=actor, contact=gone, channel="email", status="withdrawn", method="Unsubscribed"
    )

    merge = contacts_merge(
        actor=actor,
        survivor_id=keep.pk,
        other_ids=[gone.pk],
        values={"last_name": gone.pk, "company": gone.pk},
    )

    survivor = Contact.objects.get(pk=keep.pk)
    assert not Contact.objects.filter(pk=gone.pk).exists()
    assert (survivor.first_name, survivor.last_name, survivor.job_title) == (
        "Anna",
        "Иванова",
        "CTO",  # empty on the survivor: taken from the other without being chosen
    )
    assert survivor.company is not None
    assert survivor.company.name == "Acme"
    assert sorted(survivor.emails.values_list("email", flat=True)) == [
        "anna@gone.example",
        "anna@keep.example",
    ]
    assert survivor.primary_email == "anna@keep.example"
    assert list(survivor.phones.values_list("number", flat=True)) == ["+390669821234"]
    assert survivor.tags == ["vip", "fair"]
    assert Consent.objects.get(contact=survivor, channel="email").status == "withdrawn"
    assert Task.objects.get(pk=task.pk).contact_id == keep.pk
    assert Lead.objects.get(pk=lead.pk).contact_id == keep.pk
    assert list(Deal.objects.get(pk=deal.pk).contacts.all()) == [survivor]
    assert {a.pk for a in timeline.timeline(survivor)} >= {call.pk, both.pk}
    assert DocumentLink.objects.get(document=document).record_id == keep.pk
    assert CompanyMembership.objects.filter(contact=survivor, ended_at__isnull=True).count() == 1
    event = AuditEvent.objects.filter(action="contact.merged").latest("id")
    assert event.data["merged"] == [gone.pk]

    merge_undo(actor=fresh(alpha.owner), merge=merge)

    restored = Contact.objects.get(pk=gone.pk)
    survivor = Contact.objects.get(pk=keep.pk)
    assert (restored.first_name, restored.last_name, restored.company_id) == (
        "Анна",
        "Иванова",
        gone.company_id,
    )
    assert list(restored.emails.values_list("email", flat=True)) == ["anna@gone.example"]
    assert list(survivor.emails.values_list("email", flat=True)) == ["anna@keep.example"]
    assert (survivor.last_name, survivor.company_id, survivor.tags) == ("", None, ["vip"])
    assert not survivor.consents.exists()
    assert restored.consents.get().status == "withdrawn"
    assert Task.objects.get(pk=task.pk).contact_id == gone.pk
    assert Lead.objects.get(pk=lead.pk).contact_id == gone.pk
    assert list(Deal.objects.get(pk=deal.pk).contacts.all()) == [restored]
    assert {a.pk for a in timeline.timeline(restored)} == {call.pk, both.pk}
    assert {a.pk for a in timeline.timeline(survivor)} == {both.pk}
    assert DocumentLink.objects.get(document=document).record_id == gone.pk
    assert restored.company_history.get().ended_at is None
    assert MergeRecord.objects.get(pk=merge.pk).undone_at is not None
    assert AuditEvent.objects.filter(action="merge.undone").exists()
    with pytest.raises(ServiceError) as error:
        merge_undo(actor=fresh(alpha.owner), merge=MergeRecord.objects.get(pk=merge.pk))
    assert error.value.code == "expired"


def test_two_contacts_at_the_same_company_merge_and_undo(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    acme = Company.objects.create(name="Acme")
    keep = services.contact_create(actor=actor, first_name="Maria", company=acme)
    gone = services.contact_create(actor=actor, first_name="Maria", company=acme)

    contacts_merge(actor=actor, survivor_id=keep.pk, other_ids=[gone.pk])

    rows = CompanyMembership.objects.filter(contact=keep).order_by("id")
    assert [(row.company_id, row.ended_at is None) for row in rows] == [
        (acme.pk, True),
        (acme.pk, False),
    ]
    merge_undo(actor=fresh(alpha.owner), merge=MergeRecord.objects.get())
    assert list(
        CompanyMembership.objects.filter(contact__in=[keep, gone])
        .order_by("contact_id")
        .values_list("contact_id", "company_id", "ended_at")
    ) == [(keep.pk, acme.pk, None), (gone.pk, acme.pk, None)]


def test_undo_is_refused_after_seven_days(alpha: Workspace) -> None:
    keep, gone = _pair(alpha)
    merge = contacts_merge(actor=fresh(alpha.owner), survivor_id=keep.pk, other_ids=[gone.pk])
    MergeRecord.objects.filter(pk=merge.pk).update(
        merged_at=timezone.now() - datetime.timedelta(days=8)
    )
    with pytest.raises(ServiceError) as error:
        merge_undo(actor=fresh(alpha.owner), merge=MergeRecord.objects.get(pk=merge.pk))
    assert error.value.code == "expired"
    assert not Contact.objects.filter(pk=gone.pk).exists()


def test_undo_is_refused_once_the_survivor_was_edited_after_the_merge(alpha: Workspace) -> None:
    keep, gone = _pair(alpha)
    merge = contacts_merge(actor=fresh(alpha.owner), survivor_id=keep.pk, other_ids=[gone.pk])
    services.contact_update(
        actor=fresh(alpha.owner),
        contact=Contact.objects.get(pk=keep.pk),
        changes={"job_title": "Head of Sales", "emails": ["anna@keep.example", "new@x.example"]},
    )
    with pytest.raises(ServiceError) as error:
        merge_undo(actor=fresh(alpha.owner), merge=MergeRecord.objects.get(pk=merge.pk))
    assert error.value.code == "changed_since"
    assert error.value.field == "merge"
    # Nothing was undone: the edit stands and the merged record stays merged.
    survivor = Contact.objects.get(pk=keep.pk)
    assert survivor.job_title == "Head of Sales"
    assert sorted(survivor.emails.values_list("email", flat=True)) == [
        "anna@keep.example",
        "new@x.example",
    ]
    assert not Contact.objects.filter(pk=gone.pk).exists()
    assert MergeRecord.objects.get(pk=merge.pk).undone_at is None


def test_merge_refuses_a_record_changed_since_it_was_seen(alpha: Workspace) -> None:
    keep, gone = _pair(alpha)
    seen = {keep.pk: keep.updated_at, gone.pk: gone.updated_at}
    services.contact_update(actor=fresh(alpha.owner), contact=gone, changes={"job_title": "CEO"})
    with pytest.raises(ServiceError) as error:
        contacts_merge(
            actor=fresh(alpha.owner), survivor_id=keep.pk, other_ids=[gone.pk], seen=seen
        )
    assert error.value.code == "conflict"
    assert Contact.objects.filter(pk=gone.pk).exists()
    assert not MergeRecord.objects.exists()


@pytest.mark.parametrize(
    ("others", "values", "field"),
    [
        ([], {}, "records"),
        (["self"], {}, "records"),
        ([999_999_999], {}, "records"),
        (["gone"], {"search_text": "gone"}, "search_text"),
        (["gone"], {"last_name": 12345}, "last_name"),
    ],
)
def test_bad_merge_input_names_the_field_and_changes_nothing(
    alpha: Workspace, others: list[Any], values: dict[str, Any], field: str
) -> None:
    keep, gone = _pair(alpha)
    ids = {"self": keep.pk, "gone": gone.pk}
    other_ids = [ids.get(o, o) for o in others]
    chosen = {k: ids.get(v, v) for k, v in values.items()}
    with pytest.raises(ServiceError) as error:
        contacts_merge(
            actor=fresh(alpha.owner), survivor_id=keep.pk, other_ids=other_ids, values=chosen
        )
    assert error.value.field == field
    assert Contact.objects.filter(pk__in=[keep.pk, gone.pk]).count() == 2
    assert Contact.objects.get(pk=keep.pk).last_name == ""


def test_roles_that_may_not_merge_are_refused(alpha: Workspace) -> None:
    keep, gone = _pair(alpha)
    for role in (Role.SALES_REP, Role.MARKETER, Role.SUPPORT_AGENT, Role.READ_ONLY):
        with pytest.raises(PermissionDenied):
            contacts_merge(
                actor=fresh(alpha.members[role]), survivor_id=keep.pk, other_ids=[gone.pk]
            )
    # A manager's scope is the team: records of others are out of reach.
    with pytest.raises(ServiceError) as error:
        contacts_merge(
            actor=fresh(alpha.members[Role.MANAGER]), survivor_id=keep.pk, other_ids=[gone.pk]
        )
    assert error.value.code == "permission_denied"
    assert Contact.objects.filter(pk=gone.pk).exists()


def test_companies_merge_moves_contacts_deals_and_history_and_undoes(alpha: Workspace) -> None:
    actor = fresh(alpha.owner)
    keep = services.company_create(actor=actor, name="Globex", domain="globex.example")
    gone = services.company_create(actor=actor, name="Globex Inc", industry="Energy")
    child = services.company_create(actor=actor, name="Globex Italia", parent=gone)
    person = services.contact_create(actor=actor, first_name="Hank", company=gone)
    deal = DealFactory.create(company=gone)
    task = TaskFactory.create(company=gone)

    merge = companies_merge(actor=actor, survivor_id=keep.pk, other_ids=[gone.pk])

    survivor = Company.objects.get(pk=keep.pk)
    assert survivor.industry == "Energy"
    assert Contact.objects.get(pk=person.pk).company_id == keep.pk
    assert Deal.objects.get(pk=deal.pk).company_id == keep.pk
    assert Task.objects.get(pk=task.pk).company_id == keep.pk
    assert Company.objects.get(pk=child.pk).parent_id == keep.pk
    assert CompanyMembership.objects.get(contact=person).company_id == keep.pk
    assert AuditEvent.objects.filter(action="company.merged").exists()

    merge_undo(actor=fresh(alpha.owner), merge=merge)
    assert Company.objects.get(pk=gone.pk).name == "Globex Inc"
    assert Company.objects.get(pk=keep.pk).industry == ""
    assert Contact.objects.get(pk=person.pk).company_id == gone.pk
    assert Deal.objects.get(pk=deal.pk).company_id == gone.pk
    assert Task.objects.get(pk=task.pk).company_id == gone.pk
    assert Company.objects.get(pk=child.pk).parent_id == gone.pk
    assert CompanyMembership.objects.get(contact=person).company_id == gone.pk


def test_api_merge_and_undo(alpha: Workspace) -> None:
    keep, gone = _pair(alpha)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    response = _send(
        client,
        "POST",
        "/api/v1/sales/contacts/merge/",
        {
            "survivor": keep.pk,
            "merged": [gone.pk],
            "values": {"first_name": gone.pk},
            "updated_at": {str(keep.pk): keep.updated_at.isoformat()},
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["survivor"], body["merged"], body["entity"]) == (keep.pk, [gone.pk], "contact")
    assert Contact.objects.get(pk=keep.pk).first_name == "Анна"

    response = _send(client, "POST", f"/api/v1/sales/merges/{body['id']}/undo/", {})
    assert response.status_code == 200, response.content
    assert Contact.objects.filter(pk=gone.pk).exists()

    response = _send(
        client, "POST", "/api/v1/sales/contacts/merge/", {"survivor": keep.pk, "merged": []}
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"records": [response.json()["error"]["message"]]}


def test_api_merge_is_refused_to_a_sales_rep(alpha: Workspace) -> None:
    keep, gone = _pair(alpha)
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    response = _send(
        client, "POST", "/api/v1/sales/contacts/merge/", {"survivor": keep.pk, "merged": [gone.pk]}
    )
    assert response.status_code == 403
    assert Contact.objects.filter(pk=gone.pk).exists()


def test_merge_page_chooses_values_and_undo_from_duplicates_page(alpha: Workspace) -> None:
    keep, gone = _pair(alpha)
    client = workspace_client(alpha.owner.user, alpha.tenant)
    url = reverse("sales:contact_merge") + f"?ids={keep.pk},{gone.pk}"
    page = client.get(url)
    assert page.status_code == 200
    content = page.content.decode()
    assert 'name="last_name"' in content
    assert "Иванова" in content

    response = client.post(
        url,
        {
            "survivor": str(keep.pk),
            "last_name": str(gone.pk),
            f"seen_{keep.pk}": keep.updated_at.isoformat(),
            f"seen_{gone.pk}": gone.updated_at.isoformat(),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("sales:contact_detail", args=[keep.pk])
    assert Contact.objects.get(pk=keep.pk).last_name == "Иванова"
    merge = MergeRecord.objects.get()

    page = client.get(reverse("sales:duplicates"))
    assert reverse("sales:merge_undo", args=[merge.pk]) in page.content.decode()
    response = client.post(reverse("sales:merge_undo", args=[merge.pk]))
    assert response.status_code == 302
    assert Contact.objects.filter(pk=gone.pk).exists()


def test_merge_page_is_refused_to_a_sales_rep(alpha: Workspace) -> None:
    keep, gone = _pair(alpha)
    client = workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)
    url = reverse("sales:contact_merge") + f"?ids={keep.pk},{gone.pk}"
    assert client.get(url).status_code == 403
    assert client.post(url, {"survivor": str(keep.pk)}).status_code == 403
    assert Contact.objects.filter(pk=gone.pk).exists()
