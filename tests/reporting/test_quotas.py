"""Monthly quotas: managers set them for their team (page, API, service), every change audited;
bad input names the field and saves nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm_modules.reporting.models import Quota
from crm_modules.reporting.services import quota_delete, quota_set
from crm_platform.errors import PermissionDenied, ServiceError
from tenants.audit.models import AuditEvent
from tenants.models import Membership, Team
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh, in_alpha  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(in_alpha: Workspace) -> Workspace:  # noqa: F811
    """The Manager and the Sales rep in one team; the Owner outside it."""
    group = Team.objects.create(tenant=in_alpha.tenant, name="Milano")
    for role in (Role.MANAGER, Role.SALES_REP):
        member = in_alpha.members[role]
        Membership.objects.filter(pk=member.pk).update(team=group)
        member.team_id = group.pk
    return in_alpha


def _client(workspace: Workspace, role: str) -> Client:
    return workspace_client(workspace.members[role].user, workspace.tenant)


def _quota_events() -> list[tuple[str, dict[str, Any]]]:
    return list(
        AuditEvent.objects.filter(action__startswith="quota.")
        .order_by("id")
        .values_list("action", "data")
    )


def test_a_manager_sets_a_quota_for_their_team_and_setting_it_again_replaces_it(
    team: Workspace,
) -> None:
    manager, rep = fresh(team.members[Role.MANAGER]), team.members[Role.SALES_REP]
    first = quota_set(actor=manager, owner=rep.user_id, month="2026-03", amount="5000")
    again = quota_set(actor=manager, owner=str(rep.user_id), month="2026-03-17", amount="7500.5")
    assert again.pk == first.pk
    assert list(Quota.objects.values_list("owner_id", "month", "amount", "set_by_id")) == [
        (rep.user_id, datetime.date(2026, 3, 1), Decimal("7500.50"), manager.user_id)
    ]
    assert _quota_events() == [
        (
            "quota.set",
            {"member": rep.user_id, "month": "2026-03-01", "amount": "5000.00", "previous": None},
        ),
        (
            "quota.set",
            {
                "member": rep.user_id,
                "month": "2026-03-01",
                "amount": "7500.50",
                "previous": "5000.00",
            },
        ),
    ]


def test_a_manager_cannot_set_or_remove_quotas_outside_their_team(team: Workspace) -> None:
    manager, owner = fresh(team.members[Role.MANAGER]), fresh(team.owner)
    with pytest.raises(ServiceError) as refused:
        quota_set(actor=manager, owner=owner.user_id, month="2026-03", amount="10")
    assert refused.value.field == "owner"
    assert refused.value.message == "You may set quotas only for the members of your team."
    theirs = quota_set(actor=owner, owner=owner.user_id, month="2026-03", amount="10")
    with pytest.raises(PermissionDenied):
        quota_delete(actor=manager, quota=theirs)
    assert list(Quota.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert [action for action, _ in _quota_events()] == ["quota.set"]


def test_a_sales_rep_may_not_set_quotas(team: Workspace) -> None:
    rep = fresh(team.members[Role.SALES_REP])
    with pytest.raises(PermissionDenied):
        quota_set(actor=rep, owner=rep.user_id, month="2026-03", amount="10")
    assert not Quota.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"month": "2026-13"}, "month", "Enter a month such as 2026-03."),
        ({"month": "März 2026"}, "month", "Enter a month such as 2026-03."),
        ({"month": ["2026-03"]}, "month", "Enter a month such as 2026-03."),
        ({"month": "1999-12"}, "month", "Choose a month between 2000 and 2100."),
        ({"amount": ""}, "amount", "Enter the quota, such as 50000."),
        ({"amount": "lots"}, "amount", "Enter the quota, such as 50000."),
        ({"amount": True}, "amount", "Enter the quota, such as 50000."),
        ({"amount": "-1"}, "amount", "Enter a quota of zero or more."),
        ({"amount": "NaN"}, "amount", "Enter a quota of zero or more."),
        ({"amount": "1e15"}, "amount", "The quota is too large."),
        ({"owner": "x"}, "owner", "Choose a member of this workspace."),
        ({"owner": None}, "owner", "Choose a member of this workspace."),
        ({"owner": 10**12}, "owner", "Choose a member of this workspace."),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    team: Workspace, changes: dict[str, Any], field: str, message: str
) -> None:
    owner = fresh(team.owner)
    data: dict[str, Any] = {"owner": owner.user_id, "month": "2026-03", "amount": "100"}
    data.update(changes)
    with pytest.raises(ServiceError) as error:
        quota_set(actor=owner, **data)
    assert (error.value.field, error.value.message) == (field, message)
    assert not Quota.objects.exists()
    assert _quota_events() == []


def test_a_member_of_another_workspace_gets_no_quota_here(
    team: Workspace, bravo: Workspace
) -> None:
    with pytest.raises(ServiceError) as error:
        quota_set(actor=fresh(team.owner), owner=bravo.owner.user_id, month="2026-03", amount="1")
    assert error.value.field == "owner"
    assert not Quota.objects.exists()


# --- the page ----------------------------------------------------------------------------------


def test_the_page_sets_lists_and_removes_the_quotas_of_a_year(team: Workspace) -> None:
    manager, rep = _client(team, Role.MANAGER), team.members[Role.SALES_REP]
    response = manager.post(
        "/reporting/quotas/set/", {"owner": rep.user_id, "month": "2026-04", "amount": "12000"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/reporting/quotas/?year=2026"
    page = manager.get("/reporting/quotas/?year=2026").content.decode()
    quota = Quota.objects.get()
    assert f'data-quota="{quota.pk}"' in page
    assert "2026-04" in page
    assert "12,000.00" in page
    # The member list offers the Manager's team only.
    assert f'<option value="{rep.user_id}"' in page
    assert f'<option value="{team.owner.user_id}"' not in page
    assert (
        f'data-quota="{quota.pk}"'
        not in manager.get("/reporting/quotas/?year=2025").content.decode()
    )
    removed = manager.post(f"/reporting/quotas/{quota.pk}/delete/")
    assert removed.status_code == 302
    assert not Quota.objects.exists()
    assert [action for action, _ in _quota_events()] == ["quota.set", "quota.deleted"]


def test_the_page_shows_the_error_next_to_the_field_and_saves_nothing(team: Workspace) -> None:
    manager, rep = _client(team, Role.MANAGER), team.members[Role.SALES_REP]
    response = manager.post(
        "/reporting/quotas/set/", {"owner": rep.user_id, "month": "2026-04", "amount": "-5"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_amount_error"' in html
    assert "Enter a quota of zero or more." in html
    # A member outside the team is not a choice the form accepts.
    outside = manager.post(
        "/reporting/quotas/set/",
        {"owner": team.owner.user_id, "month": "2026-04", "amount": "5"},
    )
    assert outside.status_code == 400
    assert 'id="id_owner_error"' in outside.content.decode()
    assert not Quota.objects.exists()


def test_a_quota_of_another_team_cannot_be_removed_through_the_page(team: Workspace) -> None:
    theirs = quota_set(
        actor=fresh(team.owner), owner=team.owner.user_id, month="2026-01", amount="1"
    )
    response = _client(team, Role.MANAGER).post(f"/reporting/quotas/{theirs.pk}/delete/")
    assert response.status_code == 404
    assert Quota.objects.filter(pk=theirs.pk).exists()


def test_the_page_costs_the_same_queries_for_one_quota_or_twelve(team: Workspace) -> None:
    owner = fresh(team.owner)
    rep = team.members[Role.SALES_REP]
    quota_set(actor=owner, owner=rep.user_id, month="2026-01", amount="1")
    client = _client(team, Role.OWNER)
    client.get("/reporting/quotas/?year=2026")  # warm the session and caches
    with CaptureQueriesContext(connection) as one:
        assert client.get("/reporting/quotas/?year=2026").status_code == 200
    for month in range(2, 13):
        quota_set(actor=owner, owner=team.owner.user_id, month=f"2026-{month:02}", amount="2")
    with CaptureQueriesContext(connection) as twelve:
        assert client.get("/reporting/quotas/?year=2026").status_code == 200
    assert len(twelve.captured_queries) == len(one.captured_queries)


# --- the API -----------------------------------------------------------------------------------


def test_the_api_sets_lists_and_removes_quotas_within_each_roles_reach(team: Workspace) -> None:
    manager, rep = _client(team, Role.MANAGER), team.members[Role.SALES_REP]
    created = manager.post(
        "/api/v1/reporting/quotas/",
        {"owner": rep.user_id, "month": "2026-05", "amount": "900"},
        content_type="application/json",
    )
    assert created.status_code == 200
    body = created.json()
    assert (body["owner"], body["month"], body["amount"]) == (rep.user_id, "2026-05", "900.00")
    quota_set(actor=fresh(team.owner), owner=team.owner.user_id, month="2026-05", amount="5")
    # A Sales rep reads their own quotas only; the Owner reads every one.
    mine = _client(team, Role.SALES_REP).get("/api/v1/reporting/quotas/?year=2026").json()
    assert [q["id"] for q in mine["results"]] == [body["id"]]
    every = _client(team, Role.OWNER).get("/api/v1/reporting/quotas/?year=2026").json()
    assert len(every["results"]) == 2
    assert (
        _client(team, Role.OWNER).get("/api/v1/reporting/quotas/?year=2025").json()["results"] == []
    )
    bad = manager.post(
        "/api/v1/reporting/quotas/",
        {"owner": rep.user_id, "month": "2026-05", "amount": "many"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"amount": ["Enter the quota, such as 50000."]}
    year = _client(team, Role.OWNER).get("/api/v1/reporting/quotas/?year=1700")
    assert year.status_code == 400
    assert year.json()["error"]["fields"] == {"year": ["Choose a year between 2000 and 2100."]}
    assert manager.delete(f"/api/v1/reporting/quotas/{body['id']}/").status_code == 204
    assert list(Quota.objects.values_list("owner_id", flat=True)) == [team.owner.user_id]
