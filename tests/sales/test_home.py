"""The home page of a member: their day (tasks due, deals closing, recent activity)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm_modules.activities import api as activities_api
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
    first = ContactFactory.create(owner=rep.user)
    services.record_log_activity(actor=fresh(rep), record=first, kind="note", body="first")
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


def test_home_shows_the_default_pipelines_open_deals_per_stage(alpha: Workspace) -> None:
    from decimal import Decimal

    from crm_modules.sales.models import Deal, Pipeline
    from tests.sales.factories import PipelineFactory

    Pipeline.objects.all().delete()
    main = PipelineFactory.create(name="Main", position=0)
    other = PipelineFactory.create(name="Other", position=1)
    new, proposal, won, _lost = list(main.stages.order_by("position"))
    rep = alpha.members[Role.SALES_REP]
    for amount, currency, stage in (
        ("1000.00", "USD", new),
        ("2500.50", "USD", new),
        ("300.00", "EUR", new),
        ("7000.00", "USD", proposal),
    ):
        DealFactory.create(
            pipeline=main, stage=stage, amount=Decimal(amount), currency=currency, owner=rep.user
        )
    DealFactory.create(pipeline=main, stage=won, status=Deal.Status.WON, owner=rep.user)
    DealFactory.create(pipeline=main, stage=new, status=Deal.Status.LOST, owner=rep.user)
    DealFactory.create(pipeline=other, owner=rep.user, amount=Decimal("99"))

    html = workspace_client(rep.user, alpha.tenant).get("/").content.decode()

    panel = html[html.index('data-testid="pipeline-glance"') :]
    panel = panel[: panel.index("</section>")]
    assert f"?pipeline={main.pk}" in panel
    figures = panel.split('data-testid="glance-figures">')[1:]
    assert [part.split("</span>")[0] for part in figures] == [
        "3 deals · 300.00 EUR · 3,500.50 USD",
        "1 deal · 7,000.00 USD",
    ]
    assert 'max="3" value="3"' in panel
    assert 'max="3" value="1"' in panel
    assert "Won" not in panel


def test_the_pipeline_glance_counts_only_what_the_member_may_see(alpha: Workspace) -> None:
    from crm_modules.sales.models import Pipeline
    from crm_modules.sales.selectors import pipeline_glance
    from tenants.models import Tenant
    from tests.sales.factories import PipelineFactory

    Pipeline.objects.all().delete()
    main = PipelineFactory.create(name="Main")
    rep = alpha.members[Role.SALES_REP]
    DealFactory.create(pipeline=main, owner=rep.user)
    DealFactory.create(pipeline=main, owner=alpha.owner.user)

    glance = pipeline_glance(actor=fresh(rep))
    assert glance is not None
    assert [row["count"] for row in glance["stages"]] == [2, 0]
    Tenant.objects.filter(pk=alpha.tenant.pk).update(restrict_record_visibility=True)
    glance = pipeline_glance(actor=fresh(rep))
    assert glance is not None
    assert [row["count"] for row in glance["stages"]] == [1, 0]


def _sql(queries: CaptureQueriesContext) -> list[str]:
    """The statements run, without the schema switches django-tenants adds per cursor."""
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET ")]


def test_the_pipeline_glance_runs_three_queries_however_many_deals(alpha: Workspace) -> None:
    from crm_modules.sales.models import Pipeline
    from crm_modules.sales.selectors import pipeline_glance
    from tests.sales.factories import PipelineFactory

    Pipeline.objects.all().delete()
    main = PipelineFactory.create(name="Main")
    rep = fresh(alpha.members[Role.SALES_REP])
    with CaptureQueriesContext(connection) as few:
        pipeline_glance(actor=rep)
    assert len(_sql(few)) == 3
    for stage in main.stages.all():
        for currency in ("USD", "EUR", "THB"):
            DealFactory.create(pipeline=main, stage=stage, currency=currency, owner=rep.user)
    with CaptureQueriesContext(connection) as many:
        glance = pipeline_glance(actor=rep)
    assert len(_sql(many)) == 3
    assert glance is not None
    assert [row["count"] for row in glance["stages"]] == [3, 3]


def test_home_without_a_pipeline_says_so(alpha: Workspace) -> None:
    from crm_modules.sales.models import Pipeline

    Pipeline.objects.all().delete()
    html = workspace_client(alpha.owner.user, alpha.tenant).get("/").content.decode()
    assert "No pipeline yet." in html


@pytest.mark.parametrize("records_read_one_by_one", [2_000, 0])
def test_recent_activity_is_the_newest_of_the_last_90_days_on_my_records(
    alpha: Workspace, monkeypatch: pytest.MonkeyPatch, records_read_one_by_one: int
) -> None:
    # Both ways of finding them give the same entries: each record's newest (few records) and a
    # walk down the workspace's newest entries (many records).
    monkeypatch.setattr(activities_api, "RECENT_BY_RECORD_MAX", records_read_one_by_one)
    rep = alpha.members[Role.SALES_REP]
    other = fresh(alpha.members[Role.MANAGER])
    now = timezone.now()
    mine = ContactFactory.create(owner=rep.user)
    my_deal = DealFactory.create(owner=rep.user)
    my_deal.contacts.set([mine])
    theirs = ContactFactory.create(owner=other.user)
    for n in range(12):
        services.record_log_activity(
            actor=other,
            record=mine if n % 2 else my_deal,
            kind="note",
            subject=f"Mine {n:02d}",
            occurred_at=now - datetime.timedelta(hours=n),
        )
    services.record_log_activity(actor=other, record=theirs, kind="note", subject="Theirs")
    services.record_log_activity(
        actor=other,
        record=mine,
        kind="note",
        subject="Too old",
        occurred_at=now - datetime.timedelta(days=91),
    )

    html = workspace_client(rep.user, alpha.tenant).get("/").content.decode()

    shown = re.findall(r"Mine \d\d", html)
    assert shown == [f"Mine {n:02d}" for n in range(10)]
    assert "Theirs" not in html
    assert "Too old" not in html
    # An entry on a deal of mine and on its contact is listed once.
    assert len(set(shown)) == len(shown)
