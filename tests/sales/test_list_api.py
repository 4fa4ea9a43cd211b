"""The lists through the API: saved views (own and shared) and bulk actions answered per id,
with the same services and permission checks as the list pages; tags on leads and deals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from crm_modules.sales.models import (
    Company,
    Contact,
    Deal,
    DealStageChange,
    Lead,
    SavedView,
)
from tenants.audit.models import AuditEvent
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.factories import (
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    PipelineFactory,
)

pytestmark = pytest.mark.usefixtures("in_alpha")


def _send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


def _client(alpha: Workspace, role: str) -> Client:
    return workspace_client(alpha.members[role].user, alpha.tenant)


# --- saved views ------------------------------------------------------------------------------


def test_a_rep_saves_a_private_view_that_others_do_not_see(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    response = _send(
        _client(alpha, Role.SALES_REP),
        "POST",
        "/api/v1/sales/views/",
        {"entity": "contact", "name": "Мои лиды", "query": "stage=lead&mine=1&after=abc"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    view = SavedView.objects.get()
    assert body == {
        "id": view.pk,
        "entity": "contact",
        "name": "Мои лиды",
        "query": "stage=lead&mine=1",
        "shared": False,
        "owner": rep.user_id,
        "mine": True,
        "created_at": body["created_at"],
    }
    mine = _client(alpha, Role.SALES_REP).get("/api/v1/sales/views/?entity=contact").json()
    assert [row["id"] for row in mine["results"]] == [view.pk]
    theirs = _client(alpha, Role.MANAGER).get("/api/v1/sales/views/").json()
    assert theirs["results"] == []
    assert _client(alpha, Role.MANAGER).get(f"/api/v1/sales/views/{view.pk}/").status_code == 404


def test_a_rep_may_not_share_a_view(alpha: Workspace) -> None:
    response = _send(
        _client(alpha, Role.SALES_REP),
        "POST",
        "/api/v1/sales/views/",
        {"entity": "deal", "name": "Team", "shared": True},
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"shared"}
    assert not SavedView.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"entity": "ticket", "name": "X"}, "entity"),
        ({"entity": "contact", "name": ""}, "name"),
        ({"entity": "contact", "name": "x" * 101}, "name"),
        ({"entity": "contact", "name": "X", "query": "q=" + "a" * 2100}, "query"),
        ({"entity": "contact"}, "name"),
    ],
)
def test_bad_view_input_names_the_field_and_saves_nothing(
    alpha: Workspace, body: dict[str, Any], field: str
) -> None:
    response = _send(_client(alpha, Role.OWNER), "POST", "/api/v1/sales/views/", body)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {field}
    assert not SavedView.objects.exists()


def test_a_shared_view_is_changed_by_its_author_and_by_those_who_may_share(
    alpha: Workspace,
) -> None:
    manager, admin = alpha.members[Role.MANAGER], alpha.members[Role.ADMIN]
    view = SavedView.objects.create(
        entity="deal", name="Big deals", query="sort=-amount", owner=manager.user, shared=True
    )
    path = f"/api/v1/sales/views/{view.pk}/"
    seen = _client(alpha, Role.SALES_REP).get(path).json()
    assert (seen["name"], seen["mine"], seen["shared"]) == ("Big deals", False, True)
    refused = _send(_client(alpha, Role.SALES_REP), "PATCH", path, {"name": "Mine now"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert _client(alpha, Role.SALES_REP).delete(path).status_code == 403
    assert SavedView.objects.get(pk=view.pk).name == "Big deals"

    renamed = _send(_client(alpha, Role.ADMIN), "PATCH", path, {"name": "大单", "query": "q=x"})
    assert renamed.status_code == 200, renamed.content
    view.refresh_from_db()
    assert (view.name, view.query, view.owner_id) == ("大单", "q=x", manager.user_id)
    assert admin.user_id != view.owner_id

    private = _send(_client(alpha, Role.MANAGER), "PATCH", path, {"shared": False})
    assert private.json()["shared"] is False
    # Private again: out of everyone else's sight.
    assert _client(alpha, Role.ADMIN).get(path).status_code == 404
    assert _client(alpha, Role.MANAGER).delete(path).status_code == 204
    assert not SavedView.objects.exists()


def test_a_rep_cannot_share_their_view_afterwards(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    view = SavedView.objects.create(entity="lead", name="Mine", owner=rep.user)
    response = _send(
        _client(alpha, Role.SALES_REP), "PATCH", f"/api/v1/sales/views/{view.pk}/", {"shared": True}
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"shared"}
    assert SavedView.objects.get(pk=view.pk).shared is False


# --- bulk actions -----------------------------------------------------------------------------


def test_bulk_answers_each_id_and_changes_only_those_allowed(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    mine = ContactFactory.create(owner=rep.user, tags=["vip"])
    tagged = ContactFactory.create(owner=rep.user, tags=["fair"])
    theirs = ContactFactory.create(owner=alpha.owner.user)
    response = _send(
        _client(alpha, Role.SALES_REP),
        "POST",
        "/api/v1/sales/contacts/bulk/",
        {"ids": [mine.pk, theirs.pk, 999999, tagged.pk], "action": "tag", "value": " fair "},
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "changed": 1,
        "unchanged": 1,
        "not_changed": 2,
        "results": [
            {"id": mine.pk, "status": "changed", "code": "", "field": "", "message": ""},
            {
                "id": theirs.pk,
                "status": "not_allowed",
                "code": "permission_denied",
                "field": "",
                "message": "",
            },
            {"id": 999999, "status": "not_found", "code": "", "field": "", "message": ""},
            {"id": tagged.pk, "status": "unchanged", "code": "", "field": "", "message": ""},
        ],
    }
    assert Contact.objects.get(pk=mine.pk).tags == ["vip", "fair"]
    assert Contact.objects.get(pk=theirs.pk).tags == []
    assert AuditEvent.objects.filter(action="contact.updated").count() == 1


def test_a_failure_leaves_the_other_records_changed(alpha: Workspace) -> None:
    """Each record is its own savepoint: the deal of another pipeline fails, alone."""
    pipeline, other = PipelineFactory.create(), PipelineFactory.create()
    here = DealFactory.create(pipeline=pipeline, owner=alpha.owner.user)
    there = DealFactory.create(pipeline=other, owner=alpha.owner.user)
    target = pipeline.stages.get(position=1)
    response = _send(
        _client(alpha, Role.ADMIN),
        "POST",
        "/api/v1/sales/deals/bulk/",
        {"ids": [there.pk, here.pk], "action": "stage", "value": target.pk},
    )
    assert response.status_code == 200, response.content
    [failed, moved] = response.json()["results"]
    assert (failed["id"], failed["status"], failed["field"]) == (there.pk, "failed", "stage")
    assert failed["message"] == "This stage belongs to another pipeline."
    assert (moved["id"], moved["status"]) == (here.pk, "changed")
    assert Deal.objects.get(pk=here.pk).stage_id == target.pk
    assert Deal.objects.get(pk=there.pk).stage_id == other.stages.get(position=0).pk
    assert DealStageChange.objects.filter(deal=there, to_stage=target).count() == 0
    assert DealStageChange.objects.filter(deal=here, to_stage=target).count() == 1


def test_moving_deals_to_a_lost_stage_needs_a_reason(alpha: Workspace) -> None:
    pipeline = PipelineFactory.create()
    deal = DealFactory.create(pipeline=pipeline, owner=alpha.owner.user)
    lost = pipeline.stages.get(kind="lost")
    body: dict[str, Any] = {"ids": [deal.pk], "action": "stage", "value": lost.pk}
    refused = _send(_client(alpha, Role.OWNER), "POST", "/api/v1/sales/deals/bulk/", body)
    assert refused.status_code == 400
    assert set(refused.json()["error"]["fields"]) == {"lost_reason"}
    assert Deal.objects.get().status == "open"
    body["lost_reason"] = "Budget cut"
    done = _send(_client(alpha, Role.OWNER), "POST", "/api/v1/sales/deals/bulk/", body)
    assert done.json()["changed"] == 1
    assert (Deal.objects.get().status, Deal.objects.get().lost_reason) == ("lost", "Budget cut")


def test_a_marketer_sets_the_lifecycle_of_contacts_but_not_of_companies(
    alpha: Workspace,
) -> None:
    contact = ContactFactory.create(owner=alpha.owner.user, lifecycle_stage="lead")
    company = CompanyFactory.create(owner=alpha.owner.user)
    client = _client(alpha, Role.MARKETER)
    body = {"action": "lifecycle", "value": "customer"}
    answer = _send(client, "POST", "/api/v1/sales/contacts/bulk/", {"ids": [contact.pk], **body})
    assert answer.json()["changed"] == 1
    assert Contact.objects.get().lifecycle_stage == "customer"
    refused = _send(client, "POST", "/api/v1/sales/companies/bulk/", {"ids": [company.pk], **body})
    assert refused.json()["results"][0]["status"] == "not_allowed"
    assert Company.objects.get().lifecycle_stage == ""


@pytest.mark.parametrize(
    ("role", "changed"),
    [
        (Role.OWNER, 2),
        (Role.ADMIN, 2),
        (Role.MANAGER, 2),
        (Role.SALES_REP, 0),
        (Role.SUPPORT_AGENT, 0),
        (Role.MARKETER, 0),
        (Role.READ_ONLY, 0),
    ],
)
def test_bulk_delete_and_reassign_follow_the_role(
    alpha: Workspace, role: str, changed: int
) -> None:
    rep, manager = alpha.members[Role.SALES_REP], alpha.members[Role.MANAGER]
    ids = [LeadFactory.create(owner=manager.user).pk for _n in range(2)]
    given = _send(
        _client(alpha, role),
        "POST",
        "/api/v1/sales/leads/bulk/",
        {"ids": ids, "action": "owner", "value": rep.user_id},
    )
    assert given.status_code == 200
    assert given.json()["changed"] == changed
    owners = set(Lead.objects.values_list("owner", flat=True))
    assert owners == ({rep.user_id} if changed else {manager.user_id})
    # The manager's team reaches only the manager's own records (no team is set).
    doomed = [LeadFactory.create(owner=manager.user).pk for _n in range(2)]
    deleted = _send(
        _client(alpha, role),
        "POST",
        "/api/v1/sales/leads/bulk/",
        {"ids": doomed, "action": "delete"},
    )
    assert deleted.json()["changed"] == changed
    assert Lead.objects.filter(pk__in=doomed).count() == 2 - changed


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": [], "action": "delete"}, "ids"),
        ({"ids": "1", "action": "delete"}, "ids"),
        ({"ids": list(range(1, 202)), "action": "delete"}, "ids"),
        ({"ids": [1], "action": "explode"}, "action"),
        ({"ids": [1], "action": "owner", "value": 999999}, "value"),
        ({"ids": [1], "action": "tag", "value": ""}, "value"),
        ({"ids": [1], "action": "tag", "value": "x" * 51}, "value"),
        ({"ids": [1], "action": "stage", "value": 999999}, "value"),
        ({"ids": [1], "action": "lifecycle", "value": "lead"}, "action"),
    ],
)
def test_bad_bulk_input_names_the_field_and_changes_nothing(
    alpha: Workspace, body: dict[str, Any], field: str
) -> None:
    deal = DealFactory.create(owner=alpha.owner.user)
    body = {**body, "ids": [deal.pk] if body["ids"] == [1] else body["ids"]}
    response = _send(_client(alpha, Role.OWNER), "POST", "/api/v1/sales/deals/bulk/", body)
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]["fields"]) == {field}
    assert Deal.objects.filter(pk=deal.pk, tags=[], owner=alpha.owner.user).exists()


# --- tags on leads and deals ------------------------------------------------------------------


def test_leads_and_deals_carry_tags_and_are_filtered_by_them(alpha: Workspace) -> None:
    client = _client(alpha, Role.OWNER)
    lead = _send(
        client,
        "POST",
        "/api/v1/sales/leads/",
        {"first_name": "Анна", "source": "web", "tags": ["ярмарка", " ярмарка "]},
    ).json()
    assert lead["tags"] == ["ярмарка"]
    LeadFactory.create(tags=["other"])
    found = client.get("/api/v1/sales/leads/", {"tag": "ярмарка"}).json()["results"]
    assert [row["id"] for row in found] == [lead["id"]]
    deal = DealFactory.create(owner=alpha.owner.user)
    DealFactory.create()
    patched = _send(client, "PATCH", f"/api/v1/sales/deals/{deal.pk}/", {"tags": ["续约"]})
    assert patched.json()["tags"] == ["续约"]
    found = client.get("/api/v1/sales/deals/", {"tag": "续约"}).json()["results"]
    assert [row["id"] for row in found] == [deal.pk]
    page = client.get("/sales/deals/list/", {"tag": "续约"}).content.decode()
    assert f'data-deal="{deal.pk}"' in page
    assert page.count("data-deal=") == 1
    page = client.get("/sales/leads/", {"tag": "ярмарка"}).content.decode()
    assert f'data-lead="{lead["id"]}"' in page
    assert page.count("data-lead=") == 1


def test_bulk_untag_on_the_lead_list_page(alpha: Workspace) -> None:
    lead = LeadFactory.create(owner=alpha.members[Role.MANAGER].user, tags=["fair", "vip"])
    response = _client(alpha, Role.MANAGER).post(
        "/sales/leads/bulk/", {"ids": [lead.pk], "action": "untag", "tag": "fair"}
    )
    assert response.status_code == 302
    assert Lead.objects.get().tags == ["vip"]
    html = _client(alpha, Role.MANAGER).get("/sales/leads/").content.decode()
    assert 'value="untag"' in html
    assert 'value="tag"' in html
    assert 'value="lifecycle"' not in html
