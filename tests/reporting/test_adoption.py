"""Adoption for admins: each member's sign-ins, activities logged and records created per
week, from the audit log and the activity rollup."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm_modules.activities.models import ActivityDay
from crm_modules.reporting.adoption import adoption_weeks
from crm_modules.reporting.compiler import workspace_zone
from tenants.audit.models import AuditEvent
from tenants.models import User
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import in_alpha  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def used(in_alpha: Workspace) -> dict[str, Any]:  # noqa: F811
    """The rep: two sign-ins this week and one three weeks ago, a contact created this week
    and a pipeline long ago, three calls today (and stage changes, which the system wrote)."""
    rep = in_alpha.members[Role.SALES_REP]
    now = timezone.now()
    for action, when in (
        ("member.signed_in", now),
        ("member.signed_in", now - datetime.timedelta(seconds=5)),
        ("member.signed_in", now - datetime.timedelta(weeks=3)),
        ("contact.created", now),
        ("pipeline.created", now - datetime.timedelta(weeks=20)),
        ("report.saved", now),
    ):
        AuditEvent.objects.create(actor_id=rep.user_id, action=action, created_at=when)
    today = now.astimezone(workspace_zone(in_alpha.owner)).date()
    ActivityDay.objects.create(day=today, author_id=rep.user_id, kind="call", count=3)
    ActivityDay.objects.create(day=today, author_id=rep.user_id, kind="stage_change", count=5)
    return {"rep": rep, "today": today}


def _cells(html: str, member_pk: int) -> list[tuple[str, str]]:
    row = re.search(rf'<tr data-member="{member_pk}">(.*?)</tr>', html, re.S)
    assert row, html
    return re.findall(r'<td data-label="([^"]+)"[^>]*>([^<]*)', row.group(1))


def test_an_admin_sees_each_members_use_week_by_week(
    used: dict[str, Any], alpha: Workspace
) -> None:
    response = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant).get(
        "/reporting/adoption/"
    )
    assert response.status_code == 200
    html = response.content.decode()
    weeks = adoption_weeks(used["today"])
    cells = _cells(html, used["rep"].pk)
    assert cells[0] == ("Member", str(used["rep"].user))
    assert cells[1] == ("Last eight weeks", "3 · 3 · 1")
    assert cells[2:] == [
        (f"Week of {week}", "2 · 3 · 1" if n == 7 else "1 · 0 · 0" if n == 4 else "0 · 0 · 0")
        for n, week in enumerate(weeks)
    ]
    # Every member has a row, used or not.
    assert {m.pk for m in alpha.members.values()} <= {
        int(pk) for pk in re.findall(r'<tr data-member="(\d+)">', html)
    }
    assert _cells(html, alpha.members[Role.READ_ONLY].pk)[2:] == [
        (f"Week of {week}", "0 · 0 · 0") for week in weeks
    ]


def test_adoption_is_for_owners_and_admins_only(alpha: Workspace) -> None:
    for role in (Role.MANAGER, Role.SALES_REP, Role.READ_ONLY):
        client = workspace_client(alpha.members[role].user, alpha.tenant)
        assert client.get("/reporting/adoption/").status_code == 403
        assert 'href="/reporting/adoption/"' not in client.get("/reporting/").content.decode()
    owner = workspace_client(alpha.owner.user, alpha.tenant)
    assert 'href="/reporting/adoption/"' in owner.get("/reporting/").content.decode()


def test_adoption_costs_the_same_queries_however_busy_the_workspace(
    used: dict[str, Any], alpha: Workspace
) -> None:
    client = workspace_client(alpha.owner.user, alpha.tenant)
    client.get("/reporting/adoption/")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/reporting/adoption/").status_code == 200
        return len(queries.captured_queries)

    before = count()
    for member in alpha.members.values():
        for _n in range(5):
            AuditEvent.objects.create(actor_id=member.user_id, action="deal.created")
    assert count() == before


def _module_rows(html: str) -> dict[str, list[tuple[str, str]]]:
    table = re.search(r'data-testid="adoption-modules-table">(.*?)</table>', html, re.S)
    assert table, html
    rows = {}
    for body in re.findall(r'<tr data-module="\d+">(.*?)</tr>', table.group(1), re.S):
        cells = re.findall(r'<td data-label="([^"]+)"[^>]*>([^<]*)', body)
        rows[cells[0][1]] = cells[1:]
    return rows


def test_an_admin_sees_which_modules_are_used_week_by_week(
    used: dict[str, Any], alpha: Workspace
) -> None:
    admin = workspace_client(alpha.members[Role.ADMIN].user, alpha.tenant)
    before = _module_rows(admin.get("/reporting/adoption/").content.decode())
    manager = alpha.members[Role.MANAGER]
    # Ticket replies the manager wrote count for the service module, which registered the
    # entry type with its module; stage changes (written by the system) count for none.
    ActivityDay.objects.create(
        day=used["today"], author_id=manager.user_id, kind="ticket_reply", count=2
    )
    AuditEvent.objects.create(actor_id=manager.user_id, action="contact.created")
    response = admin.get("/reporting/adoption/")
    assert response.status_code == 200
    html = response.content.decode()
    rows = _module_rows(html)
    weeks = adoption_weeks(used["today"])
    this_week = f"Week of {weeks[-1]}"

    def actions(found: dict[str, list[tuple[str, str]]], module: str) -> int:
        return int(dict(found[module])["Actions, last eight weeks"]) if module in found else 0

    # The rep's contact and calls (the fixture), the manager's contact and replies; the
    # pipeline created twenty weeks ago is outside the eight weeks shown.
    assert actions(rows, "Sales") - actions(before, "Sales") == 1
    assert "Service" not in before
    assert rows["Service"][:2] == [
        ("Members, last eight weeks", "1"),
        ("Actions, last eight weeks", "2"),
    ]
    assert dict(rows["Service"])[this_week] == "1 · 2"
    assert dict(rows["Service"])[f"Week of {weeks[0]}"] == "0 · 0"
    assert actions(rows, "Activities") >= 3
    assert actions(rows, "Reporting") >= 1
    assert int(dict(rows["Sales"])["Members, last eight weeks"]) >= 2
    # Most used first.
    totals = [actions(rows, module) for module in rows]
    assert totals == sorted(totals, reverse=True)
    # The chart: one line per module, active members per week.
    figure = re.search(
        r'<script id="figure-adoption-modules" type="application/json">(.*?)</script>', html, re.S
    )
    assert figure
    traces = json.loads(figure.group(1))["data"]
    by_name = {t["name"]: t["y"] for t in traces}
    assert by_name["Service"] == [0.0] * 7 + [1.0]
    assert set(by_name) == set(rows)


def test_module_use_is_translated(used: dict[str, Any], alpha: Workspace) -> None:
    admin = alpha.members[Role.ADMIN]
    User.objects.filter(pk=admin.user_id).update(language="ru")
    admin.user.refresh_from_db()
    html = workspace_client(admin.user, alpha.tenant).get("/reporting/adoption/").content.decode()
    assert "Какие модули используются" in html
    assert "Продажи" in _module_rows(html)


def test_module_use_is_for_owners_and_admins_only(used: dict[str, Any], alpha: Workspace) -> None:
    for role in (Role.MANAGER, Role.SALES_REP, Role.READ_ONLY):
        client = workspace_client(alpha.members[role].user, alpha.tenant)
        response = client.get("/reporting/adoption/")
        assert response.status_code == 403
        assert "adoption-modules" not in response.content.decode()
