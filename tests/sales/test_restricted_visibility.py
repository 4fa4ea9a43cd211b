"""The workspace setting "Sales reps see only their own records": an admin turns it on (audited),
and from then on a Sales rep reaches only the records they or their team own, in every channel
that reads sales records — lists, record pages, the search box, the deals board, the API, the
lists an export reads and the timeline. Each channel is checked with the setting off and on.
(The isolation matrices check every record page and API operation the same way.)"""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm_modules.activities.api import NOTE, activity_log
from crm_modules.sales.filters import list_for
from crm_modules.sales.models import Company, Contact, Deal, Lead, Pipeline
from crm_modules.sales.selectors import contact_get, deal_board, task_list
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Team, Tenant
from tenants.permissions import allows
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import (
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    PipelineFactory,
    TaskFactory,
)

pytestmark = pytest.mark.usefixtures("in_alpha")

ENTITIES = ("contact", "company", "lead", "deal")


def _restrict(alpha: Workspace, on: bool = True) -> None:
    Tenant.objects.filter(pk=alpha.tenant.pk).update(restrict_record_visibility=on)


def _records(alpha: Workspace) -> dict[str, dict[str, Any]]:
    """For the rep and for the Owner: one record of each kind, named after its owner; the
    deals in one pipeline."""
    pipeline = PipelineFactory.create(name="Main")
    made: dict[str, dict[str, Any]] = {}
    for who, member in (("rep", alpha.members[Role.SALES_REP]), ("boss", alpha.owner)):
        user = member.user
        made[who] = {
            "company": CompanyFactory.create(name=f"Zephyr {who} 公司", owner=user),
            "contact": ContactFactory.create(first_name="Zephyr", last_name=who, owner=user),
            "lead": LeadFactory.create(first_name=f"Zephyr {who}", owner=user),
            "deal": DealFactory.create(name=f"Zephyr {who} deal", pipeline=pipeline, owner=user),
            "task": TaskFactory.create(title=f"Call {who}", owner=user),
        }
    return made


def _rep_client(alpha: Workspace) -> Any:
    return workspace_client(alpha.members[Role.SALES_REP].user, alpha.tenant)


# --- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_an_admin_turns_the_setting_on_and_it_is_audited(alpha: Workspace, role: str) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    form = {
        "name": alpha.tenant.name,
        "time_zone": alpha.tenant.time_zone,
        "currency": alpha.tenant.currency,
        "restrict_record_visibility": "on",
    }

    page = client.get("/settings/").content.decode()
    assert 'name="restrict_record_visibility"' in page
    response = client.post("/settings/", form)

    assert response.status_code == 302
    assert Tenant.objects.get(pk=alpha.tenant.pk).restrict_record_visibility is True
    with schema_context(alpha.tenant.schema_name):
        event = AuditEvent.objects.get(action="settings.updated")
    assert event.actor_email == alpha.members[role].user.email
    assert event.data == {"restrict_record_visibility": {"from": False, "to": True}}

    client.post("/settings/", {**form, "restrict_record_visibility": ""})
    assert Tenant.objects.get(pk=alpha.tenant.pk).restrict_record_visibility is False


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES_REP])
def test_no_one_else_may_change_the_setting(alpha: Workspace, role: str) -> None:
    client = workspace_client(alpha.members[role].user, alpha.tenant)
    response = client.post(
        "/settings/",
        {
            "name": alpha.tenant.name,
            "time_zone": "UTC",
            "currency": "USD",
            "restrict_record_visibility": "on",
        },
    )
    assert response.status_code == 403
    assert Tenant.objects.get(pk=alpha.tenant.pk).restrict_record_visibility is False
    with schema_context(alpha.tenant.schema_name):
        assert not AuditEvent.objects.filter(action="settings.updated").exists()


# --- the permission question ------------------------------------------------------------------


def test_the_one_question_answers_from_the_setting(alpha: Workspace) -> None:
    from crm_modules.sales.module import VIEW_RECORDS

    made = _records(alpha)
    boss_contact = made["boss"]["contact"]
    rep = alpha.members[Role.SALES_REP]
    assert allows(fresh(rep), VIEW_RECORDS, boss_contact) is True
    _restrict(alpha)
    assert allows(fresh(rep), VIEW_RECORDS, boss_contact) is False
    assert allows(fresh(rep), VIEW_RECORDS, made["rep"]["contact"]) is True
    # Other roles, and things without an owner (the pipeline), are not narrowed.
    for role in (Role.MANAGER, Role.SUPPORT_AGENT, Role.MARKETER, Role.READ_ONLY):
        assert allows(fresh(alpha.members[role]), VIEW_RECORDS, boss_contact) is True
    assert allows(fresh(rep), VIEW_RECORDS, Pipeline.objects.get(name="Main")) is True


def test_a_rep_also_sees_the_records_of_their_team_when_restricted(alpha: Workspace) -> None:
    made = _records(alpha)
    team = Team.objects.create(tenant=alpha.tenant, name="North")
    Membership.objects.filter(pk__in=[alpha.members[Role.SALES_REP].pk, alpha.owner.pk]).update(
        team=team
    )
    _restrict(alpha)
    rep = fresh(alpha.members[Role.SALES_REP])

    assert {c.last_name for c in list_for("contact", actor=rep, params={})} == {"rep", "boss"}
    assert contact_get(actor=rep, contact_id=made["boss"]["contact"].pk).last_name == "boss"


# --- lists, and the lists an export reads -------------------------------------------------------


@pytest.mark.parametrize("entity", ENTITIES)
def test_lists_and_exports_hold_only_the_reps_own_records_when_restricted(
    alpha: Workspace, entity: str
) -> None:
    made = _records(alpha)
    rep = alpha.members[Role.SALES_REP]
    everything = {made["rep"][entity].pk, made["boss"][entity].pk}

    assert {r.pk for r in list_for(entity, actor=fresh(rep), params={})} == everything
    _restrict(alpha)
    assert [r.pk for r in list_for(entity, actor=fresh(rep), params={})] == [made["rep"][entity].pk]
    manager = fresh(alpha.members[Role.MANAGER])
    assert {r.pk for r in list_for(entity, actor=manager, params={})} == everything


@pytest.mark.parametrize(
    "path", ["/sales/contacts/", "/sales/companies/", "/sales/leads/", "/sales/deals/list/"]
)
def test_list_pages_show_only_the_reps_own_records_when_restricted(
    alpha: Workspace, path: str
) -> None:
    _records(alpha)
    client = _rep_client(alpha)

    page = client.get(path).content.decode()
    assert "boss" in page
    _restrict(alpha)
    page = client.get(path).content.decode()
    assert "Zephyr" in page
    assert "boss" not in page


def test_the_task_list_holds_only_the_reps_own_tasks_when_restricted(alpha: Workspace) -> None:
    made = _records(alpha)
    rep = alpha.members[Role.SALES_REP]
    everything = {made["rep"]["task"].pk, made["boss"]["task"].pk}
    assert {t.pk for t in task_list(actor=fresh(rep))} == everything
    _restrict(alpha)
    assert [t.pk for t in task_list(actor=fresh(rep))] == [made["rep"]["task"].pk]
    page = _rep_client(alpha).get("/sales/tasks/", {"mine": "0"}).content.decode()
    assert "Call rep" in page
    assert "Call boss" not in page


# --- record pages and their timelines ---------------------------------------------------------


@pytest.mark.parametrize("entity", ENTITIES)
def test_another_members_record_page_is_not_found_when_restricted(
    alpha: Workspace, entity: str
) -> None:
    made = _records(alpha)
    plural = {"company": "companies"}.get(entity, f"{entity}s")
    client = _rep_client(alpha)
    theirs = f"/sales/{plural}/{made['boss'][entity].pk}/"
    mine = f"/sales/{plural}/{made['rep'][entity].pk}/"

    assert client.get(theirs).status_code == 200
    _restrict(alpha)
    assert client.get(theirs).status_code == 404
    assert client.get(mine).status_code == 200


def test_the_timeline_of_another_members_record_is_not_shown_when_restricted(
    alpha: Workspace,
) -> None:
    made = _records(alpha)
    boss_contact = made["boss"]["contact"]
    activity_log(
        kind=NOTE.code, author=alpha.owner.user, concerns=[boss_contact], body="Secret pricing"
    )
    client = _rep_client(alpha)
    api = f"/api/v1/sales/contacts/{boss_contact.pk}/activities/"

    assert [e["body"] for e in client.get(api).json()] == ["Secret pricing"]
    assert "Secret pricing" in client.get(f"/sales/contacts/{boss_contact.pk}/").content.decode()
    _restrict(alpha)
    assert client.get(api).status_code == 404
    assert client.get(f"/sales/contacts/{boss_contact.pk}/").status_code == 404


def test_a_reps_deal_names_only_the_contacts_the_rep_may_open(alpha: Workspace) -> None:
    made = _records(alpha)
    deal = made["rep"]["deal"]
    deal.contacts.set([made["rep"]["contact"], made["boss"]["contact"]])
    client = _rep_client(alpha)
    page = client.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert f"/sales/contacts/{made['boss']['contact'].pk}/" in page
    _restrict(alpha)
    page = client.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert f"/sales/contacts/{made['rep']['contact'].pk}/" in page
    assert f"/sales/contacts/{made['boss']['contact'].pk}/" not in page


# --- the search box and the board -------------------------------------------------------------


def test_search_finds_only_the_reps_own_records_when_restricted(alpha: Workspace) -> None:
    made = _records(alpha)
    client = _rep_client(alpha)
    boss_links = [
        f"/sales/contacts/{made['boss']['contact'].pk}/",
        f"/sales/companies/{made['boss']['company'].pk}/",
        f"/sales/deals/{made['boss']['deal'].pk}/",
        f"/sales/leads/{made['boss']['lead'].pk}/",
    ]

    page = client.get("/sales/search/", {"q": "zephyr"}).content.decode()
    assert all(link in page for link in boss_links)
    _restrict(alpha)
    page = client.get("/sales/search/", {"q": "zephyr"}).content.decode()
    assert not any(link in page for link in boss_links)
    assert f"/sales/contacts/{made['rep']['contact'].pk}/" in page
    # A Chinese term finds the rep's company and not the Owner's.
    page = client.get("/sales/search/", {"q": "公司"}).content.decode()
    assert f"/sales/companies/{made['rep']['company'].pk}/" in page
    assert f"/sales/companies/{made['boss']['company'].pk}/" not in page


def test_the_board_counts_and_shows_only_the_reps_own_deals_when_restricted(
    alpha: Workspace,
) -> None:
    made = _records(alpha)
    pipeline = made["rep"]["deal"].pipeline
    rep = alpha.members[Role.SALES_REP]

    first = deal_board(actor=fresh(rep), pipeline=pipeline)[0]
    assert first["count"] == 2
    _restrict(alpha)
    first = deal_board(actor=fresh(rep), pipeline=pipeline)[0]
    assert (first["count"], [d.name for d in first["deals"]]) == (1, ["Zephyr rep deal"])
    page = _rep_client(alpha).get("/sales/deals/", {"pipeline": pipeline.pk}).content.decode()
    assert "Zephyr rep deal" in page
    assert "Zephyr boss deal" not in page


# --- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "model"),
    [("contacts", Contact), ("companies", Company), ("leads", Lead), ("deals", Deal)],
)
def test_api_lists_and_reads_only_the_reps_own_records_when_restricted(
    alpha: Workspace, entity: str, model: Any
) -> None:
    made = _records(alpha)
    singular = model._meta.model_name
    client = _rep_client(alpha)
    base = f"/api/v1/sales/{entity}/"
    boss_id, rep_id = made["boss"][singular].pk, made["rep"][singular].pk

    assert {r["id"] for r in client.get(base).json()["results"]} == {boss_id, rep_id}
    assert client.get(f"{base}{boss_id}/").status_code == 200
    _restrict(alpha)
    assert [r["id"] for r in client.get(base).json()["results"]] == [rep_id]
    response = client.get(f"{base}{boss_id}/")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert client.get(f"{base}{rep_id}/").status_code == 200


def test_the_api_task_list_holds_only_the_reps_own_tasks_when_restricted(
    alpha: Workspace,
) -> None:
    made = _records(alpha)
    client = _rep_client(alpha)
    assert len(client.get("/api/v1/sales/tasks/").json()["results"]) == 2
    _restrict(alpha)
    assert [t["id"] for t in client.get("/api/v1/sales/tasks/").json()["results"]] == [
        made["rep"]["task"].pk
    ]
