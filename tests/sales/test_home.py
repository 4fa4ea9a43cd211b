"""The home page of a member: their day (tasks due, deals closing, recent activity)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm_modules.sales import services
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory, DealFactory, TaskFactory

pytestmark = pytest.mark.usefixtures("in_alpha")


def test_home_shows_my_tasks_deals_and_activity_only(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    other = alpha.members[Role.MANAGER]
    now = timezone.now()
    today = timezone.localdate()
    overdue = TaskFactory.create(
        owner=rep.user, title="Chase invoice", due_at=now - datetime.timedelta(days=2)
    )
    due = TaskFactory.create(
        owner=rep.user,
        title="Call Anna",
        due_at=timezone.localtime(now).replace(hour=23, minute=59),
    )
    TaskFactory.create(owner=rep.user, title="Next week", due_at=now + datetime.timedelta(days=8))
    TaskFactory.create(owner=other.user, title="Not mine", due_at=now)
    TaskFactory.create(owner=rep.user, title="Finished", due_at=now, done=True)
    closing = DealFactory.create(owner=rep.user, name="Closing soon", expected_close_date=today)
    DealFactory.create(
        owner=rep.user, name="Next year", expected_close_date=today + datetime.timedelta(days=400)
    )
    DealFactory.create(owner=other.user, name="Theirs", expected_close_date=today)
    mine = ContactFactory.create(owner=rep.user)
    theirs = ContactFactory.create(owner=other.user)
    services.record_log_activity(actor=fresh(other), record=mine, kind="note", body="On my contact")
    services.record_log_activity(
        actor=fresh(other), record=theirs, kind="note", subject="Elsewhere"
    )

    client = workspace_client(rep.user, alpha.tenant)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-task="{overdue.pk}"' in html
    assert f'data-task="{due.pk}"' in html
    assert html.index("Chase invoice") < html.index("Call Anna")
    for absent in ("Next week", "Not mine", "Finished", "Next year", "Theirs", "Elsewhere"):
        assert absent not in html, absent
    assert f'data-deal="{closing.pk}"' in html
    assert f'href="/sales/contacts/{mine.pk}/"' in html
    assert client.head("/").status_code == 200


def test_home_runs_the_same_queries_however_full_the_day(alpha: Workspace) -> None:
    rep = alpha.members[Role.SALES_REP]
    client = workspace_client(rep.user, alpha.tenant)
    TaskFactory.create(owner=rep.user, due_at=timezone.now())
    DealFactory.create(owner=rep.user, expected_close_date=timezone.localdate())
    client.get("/")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for _n in range(10):
        TaskFactory.create(owner=rep.user, due_at=timezone.now())
        DealFactory.create(owner=rep.user, expected_close_date=timezone.localdate())
        contact = ContactFactory.create(owner=rep.user)
        services.record_log_activity(actor=fresh(rep), record=contact, kind="note", body="n")
    with CaptureQueriesContext(connection) as many:
        client.get("/")
    assert len(many) == len(few)
